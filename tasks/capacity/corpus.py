"""The three capacity datasets behind one interface: training records per exposure, one
evaluation record per person, and how a person's span losses become p1, p2 (and p3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from memeval.metrics import capacity as cap
from memeval.tasks.capacity import bios, biod
from memeval.tasks.capacity.bios import Segment
from memeval.tasks.capacity.templates import ATTRIBUTES, PRONOUNS, TEMPLATES
from memeval.tasks.capacity.values import DAYS, MONTHS, YEARS, value_lists

DATASETS = ("bioS", "bioS-simple", "bioD")
EVAL_EXPOSURE = 2**32 - 1  # the evaluation draw's stream (seed words must be non-negative)
Spans = list[tuple[str, int, int]]  # (role, start, end) in token positions of the record


class Corpus(Protocol):
    n: int
    name: str
    fixed_records: bool  # the same record at every exposure (training may cache its tokens)

    def record(self, person: int, exposure: int) -> list[Segment]: ...
    def eval_record(self, person: int) -> list[Segment]: ...
    def vocab_texts(self) -> Iterator[str]: ...
    def losses(self, tok_losses: np.ndarray, spans: Spans) -> dict[str, Any]: ...
    def bits(self, p: dict[str, float], n: int) -> float: ...  # formula on (mean) losses
    def max_bits(self, n: int) -> float: ...
    def facts(self, person: int) -> dict[str, Any]: ...
    def describe(self) -> dict[str, Any]: ...


def span_sum(tok_losses: np.ndarray, start: int, end: int) -> float:
    """Summed loss of record tokens [start, end). The record is scored after a leading EOS,
    so record token i is predicted at loss index i."""
    return float(tok_losses[start:end].sum())


class BioSCorpus:
    def __init__(self, n: int, seed: int, variant: str = "bioS") -> None:
        if variant not in ("bioS", "bioS-simple"):
            raise ValueError(variant)
        self.n, self.name, self.seed = n, variant, seed
        self.fixed_records = variant == "bioS-simple"  # bioS re-draws layouts per exposure
        self.values = value_lists()
        self.people = bios.sample_people(n, seed, self.values)

    def record(self, person: int, exposure: int) -> list[Segment]:
        p = self.people[person]
        return bios.render(p, bios.layout_for(p, self.name, self.seed, exposure), self.values)

    def eval_record(self, person: int) -> list[Segment]:
        # bioS: a layout drawn apart from the training exposures; bioS-simple: its only one
        return self.record(person, EVAL_EXPOSURE)

    def vocab_texts(self) -> Iterator[str]:
        # Every possible word, not just the drawn people's: a vocabulary fitted on the sample
        # would tell the model for free which names exist (the tokenizer is not counted in P)
        yield from all_value_texts()
        for ts in TEMPLATES.values():
            yield from (t.format(s="", p="", v="", c="") for t in ts)
        for subj, poss in PRONOUNS.values():
            yield f"{subj} {poss}"
        yield " ".join(MONTHS) + " " + " ".join(str(x) for x in (*range(1, DAYS + 1), *YEARS))

    def losses(self, tok_losses: np.ndarray, spans: Spans) -> dict[str, Any]:
        name = next(span_sum(tok_losses, s, e) for r, s, e in spans if r == "name")
        gender = next(span_sum(tok_losses, s, e) for r, s, e in spans if r == "gender")
        values = {"gender": gender}
        for r, s, e in spans:
            if r.startswith("value:"):
                values[r.split(":", 1)[1]] = span_sum(tok_losses, s, e)
        return {"p1": name, "p2": float(sum(values.values())), "value_losses": values}

    def bits(self, p: dict[str, float], n: int) -> float:
        return cap.bios_bits(n, p["p1"], p["p2"])

    def max_bits(self, n: int) -> float:
        return cap.bios_max_bits(n)

    def facts(self, person: int) -> dict[str, Any]:
        return self.people[person].values(self.values)

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.name, "n": self.n, "values_sha256": self.values.sha256(),
                "cardinalities": self.values.cardinalities(),
                "templates_per_attribute": {a: len(TEMPLATES[a]) for a in ATTRIBUTES}}


class BioDCorpus:
    name = "bioD"
    fixed_records = True  # record(person, exposure) does not depend on the exposure

    def __init__(self, spec: biod.BioDSpec, seed: int) -> None:
        self.spec, self.n, self.seed = spec, spec.n, seed
        self.data = biod.generate(spec, seed)

    def record(self, person: int, exposure: int) -> list[Segment]:
        return biod.render(self.data, person)  # fixed order: nothing to re-draw

    def eval_record(self, person: int) -> list[Segment]:
        return biod.render(self.data, person)

    def vocab_texts(self) -> Iterator[str]:
        s = self.spec  # the whole alphabet, whatever was drawn (see BioSCorpus.vocab_texts)
        yield " ".join(biod.name_alphabet() + [f"k{i}" for i in range(s.k)]
                       + [f"t{i}" for i in range(s.t)])
        if s.names == "words":
            yield from all_value_texts(names_only=True)

    def losses(self, tok_losses: np.ndarray, spans: Spans) -> dict[str, Any]:
        k = self.spec.k
        value = [0.0] * k
        first = [0.0] * k
        name = 0.0
        for r, s, e in spans:
            if r == "name":
                name = span_sum(tok_losses, s, e)
            elif r.startswith("value:"):
                _, ks, cs = r.split(":")
                loss = span_sum(tok_losses, s, e)
                value[int(ks)] += loss
                if cs == "0":
                    first[int(ks)] = loss
        # per attribute (see memeval.metrics.capacity): the formula multiplies by K
        return {"p1": name, "p2": sum(value) / k, "p3": sum(first) / k,
                "p2_sum": sum(value), "value_losses": {str(i): v for i, v in enumerate(value)}}

    def bits(self, p: dict[str, float], n: int) -> float:
        s = self.spec
        return cap.biod_bits(n, s.k, s.c, s.d, s.l, s.t, p["p1"], p["p2"], p["p3"])

    def max_bits(self, n: int) -> float:
        s = self.spec
        return cap.biod_max_bits(n, s.k, s.c, s.d, s.l, s.t)

    def facts(self, person: int) -> dict[str, Any]:
        d = self.data
        return {"name": " ".join(biod.name_symbols(d.names[person], self.spec.names)),
                "values": [list(v) for v in d.values[person]]}

    def describe(self) -> dict[str, Any]:
        s = self.spec
        return {"dataset": "bioD", "n": s.n, "K": s.k, "C": s.c, "D": s.d, "L": s.l, "T": s.t,
                "names": s.names}


def all_value_texts(names_only: bool = False) -> Iterator[str]:
    v = value_lists()
    lists = (v.first, v.middle, v.last) if names_only else (
        v.first, v.middle, v.last, v.cities, v.universities, v.majors, v.employers)
    for values in lists:
        yield from values


def make_corpus(dataset: str, n: int, seed: int, **biod_params: Any) -> Corpus:
    if dataset in ("bioS", "bioS-simple"):
        return BioSCorpus(n, seed, dataset)
    if dataset == "bioD":
        return BioDCorpus(biod.BioDSpec(n=n, **biod_params), seed)
    raise ValueError(f"unknown dataset {dataset!r} (valid: {', '.join(DATASETS)})")
