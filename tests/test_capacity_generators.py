"""bioS / bioS-simple / bioD generators: cardinalities, distinct names, re-drawing per exposure."""

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from memeval.adapters.lm.tokenizers import WordTokenizer
from memeval.tasks.capacity import bios, biod
from memeval.tasks.capacity.corpus import BioSCorpus, make_corpus
from memeval.tasks.capacity.templates import TEMPLATES, prefix_conflicts
from memeval.tasks.capacity.train import SegmentEncoder
from memeval.tasks.capacity.values import value_lists

PAPER = {"first": 400, "middle": 400, "last": 1000, "birth_date": 12 * 28 * 200,
         "birth_city": 200, "university": 300, "major": 100, "employer": 263, "gender": 2}


@pytest.fixture(scope="module")
def people():
    return bios.sample_people(20_000, seed=7)


def test_value_lists_have_the_papers_cardinalities():
    v = value_lists()
    assert v.cardinalities() == PAPER
    for name in ("first", "middle", "last", "cities", "universities", "majors", "employers"):
        values = getattr(v, name)
        assert len(set(values)) == len(values), name  # distinct entries
    # every employer has one fixed city among the 200
    assert len(v.employer_city) == 263 and set(v.employer_city) <= set(range(200))
    assert len(v.sha256()) == 64


def test_names_are_distinct(people):
    v = value_lists()
    rendered = [p.values(v)["name"] for p in people]
    assert len(set(p.name for p in people)) == len(people)
    assert len(set(rendered)) == len(people)
    data = biod.generate(biod.BioDSpec(n=3000), seed=1)
    assert len(set(data.names)) == 3000
    assert len({" ".join(biod.name_symbols(n)) for n in data.names}) == 3000


@pytest.mark.parametrize("attr,k", [("gender", 2), ("birth_city", 200), ("university", 300),
                                    ("major", 100), ("employer", 263)])
def test_attribute_frequencies_match_cardinality(people, attr, k):
    counts = Counter(getattr(p, attr) for p in people)
    assert set(counts) == set(range(k))  # every value occurs, none outside the list
    obs = np.array([counts[i] for i in range(k)])
    assert chisquare(obs).pvalue > 1e-3  # uniform over exactly k values


@pytest.mark.parametrize("part,k", [(0, 12), (1, 28), (2, 200)])
def test_birth_date_parts_are_uniform(people, part, k):
    counts = Counter(p.birth_date[part] for p in people)
    assert set(counts) == set(range(k))
    assert chisquare(np.array([counts[i] for i in range(k)])).pvalue > 1e-3


def test_name_parts_cover_their_lists(people):
    for part, k in ((0, 400), (1, 400), (2, 1000)):
        counts = Counter(p.name[part] for p in people)
        assert max(counts) < k and len(counts) > 0.95 * k
        assert chisquare(np.array([counts[i] for i in range(k)])).pvalue > 1e-3


def test_bios_redraws_templates_and_order_per_exposure_bios_simple_does_not():
    s = BioSCorpus(5, seed=3, variant="bioS")
    simple = BioSCorpus(5, seed=3, variant="bioS-simple")
    for person in range(5):
        texts = {bios.text_of(s.record(person, e)) for e in range(8)}
        assert len(texts) == 8  # 8^5 * 5! layouts: 8 exposures never repeat here
        layouts = {bios.layout_for(s.people[person], "bioS", 3, e) for e in range(8)}
        assert len({lay.order for lay in layouts}) > 1 and len({lay.templates for lay in layouts}) > 1
        fixed = {bios.text_of(simple.record(person, e)) for e in range(8)}
        assert len(fixed) == 1
        assert simple.eval_record(person) == simple.record(person, 0)
    # same people and facts in both variants
    assert [p.name for p in s.people] == [p.name for p in simple.people]


def test_every_fact_appears_in_the_biography():
    s = BioSCorpus(20, seed=0)
    for i in range(20):
        text = bios.text_of(s.record(i, 4))
        facts = s.facts(i)
        for key in ("name", "birth_date", "birth_city", "university", "major", "employer",
                    "employer_city"):
            assert facts[key] in text, (key, text)
        assert text.startswith(facts["name"])


def test_templates_are_prefix_free_and_several_per_attribute():
    assert prefix_conflicts() == []
    assert all(len(t) >= 8 for t in TEMPLATES.values())


def test_segment_spans_are_exact_tokens():
    corpus = make_corpus("bioS", 10, seed=2)
    tok = WordTokenizer.fit(corpus.vocab_texts())

    class M:
        tokenizer = tok

    ids, spans = SegmentEncoder(M())(corpus.eval_record(0))  # type: ignore[arg-type]
    by_role = {r: tok.decode(ids[a:b]) for r, a, b in reversed(spans)}  # first occurrence
    facts = corpus.facts(0)
    assert by_role["name"] == facts["name"]
    assert by_role["value:major"] == facts["major"]
    assert by_role["gender"] in ("He", "She", "his", "her")
    assert tok.unk_id not in ids


def test_biod_records_have_the_declared_shape():
    spec = biod.BioDSpec(n=50, k=3, c=2, d=8, l=3, t=5)
    corpus = make_corpus("bioD", 50, seed=4, k=3, c=2, d=8, l=3, t=5)
    data = corpus.data  # type: ignore[attr-defined]
    assert all(len(set(dct)) == spec.d for dct in data.dictionaries)
    assert all(max(max(s) for s in dct) < spec.t for dct in data.dictionaries)
    tok = WordTokenizer.fit(corpus.vocab_texts())
    segs = corpus.eval_record(0)
    assert len(tok.encode("".join(t for t, _ in segs))) == 7 + spec.k * (1 + spec.c * spec.l)
    assert sum(r.startswith("value:") for _, r in segs) == spec.k * spec.c
    with pytest.raises(ValueError):
        biod.BioDSpec(n=10, d=300, l=2, t=16)  # 256 strings cannot hold 300 distinct
