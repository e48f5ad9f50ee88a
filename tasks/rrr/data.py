"""Study and foil sets for recognition / recall / retention (Orhan 2023 protocol, memeval data).

Natural sentences are LoCoMo turns longer than 100 characters (CC BY-NC 4.0, see
data_cards/rrr.md), without image-caption turns. One seeded shuffle splits them into disjoint
pools: studied items, novel foils, gibberish sources and unrelated retention text, so no foil
or retention sentence is ever studied.

Pairs (studied item, foil), matched by index:
- natural items, each with three foils: novel (another turn), paraphrase, synonym swap
  (rules in rewrite.py); natural items are drawn from turns that admit both rewrites;
- random: a 25-word string of words from the LoCoMo vocabulary vs another such string;
- gibberish: a letter-shuffled turn vs another letter-shuffled turn.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memeval.errors import UserError
from memeval.tasks.rrr import rewrite

KINDS = ("novel", "paraphrase", "synonym", "random", "gibberish")
NATURAL_KINDS = ("novel", "paraphrase", "synonym")
MIN_CHARS = 100
RANDOM_WORDS = 25
_WORD = re.compile(r"^[a-z]{2,}$")


@dataclass(frozen=True)
class Pair:
    pair_id: str  # "<item_id>/<kind>"
    item_id: str  # the studied item: "nat/0003", "rnd/0001", "gib/0002"
    kind: str
    studied: str
    foil: str


@dataclass
class StudySet:
    items: dict[str, str]  # item_id -> studied text
    pairs: list[Pair]
    unrelated: list[str]  # retention-phase training text, never studied nor a foil
    info: dict[str, Any] = field(default_factory=dict)

    def item_kind(self, item_id: str) -> str:
        return {"nat": "natural", "rnd": "random", "gib": "gibberish"}[item_id.split("/")[0]]


def natural_sentences(path: Path | str | None = None) -> list[str]:
    """LoCoMo turns > 100 characters, image-caption turns excluded, deduplicated, sorted."""
    from memeval.tasks.locomo import loader

    texts = {" ".join(t.text.split()) for c in loader.load(path) for s in c.sessions
             for t in s.turns}
    return sorted(t for t in texts if len(t) > MIN_CHARS and " and shared " not in t)


def _vocabulary(sentences: list[str]) -> list[str]:
    words = {w for s in sentences for w in (x.strip(".,!?;:'\"()").lower() for x in s.split())}
    return sorted(w for w in words if _WORD.match(w))


def build(n: int, n_unstructured: int, kinds: tuple[str, ...] = KINDS, seed: int = 0,
          n_unrelated: int = 2000, path: Path | str | None = None) -> StudySet:
    bad = set(kinds) - set(KINDS)
    if bad:
        raise UserError(f"rrr: unknown foil kind(s) {', '.join(sorted(bad))}; "
                        f"valid: {', '.join(KINDS)}")
    sentences = natural_sentences(path)
    rng = np.random.default_rng([seed, 0x5A7])
    pool = [sentences[i] for i in rng.permutation(len(sentences)).tolist()]
    nat_kinds = [k for k in kinds if k in NATURAL_KINDS]
    items: dict[str, str] = {}
    pairs: list[Pair] = []
    used: set[str] = set()

    def take(count: int, ok: Any = lambda s: True) -> list[str]:
        got = []
        for s in pool:
            if len(got) == count:
                break
            if s not in used and ok(s):
                got.append(s)
                used.add(s)
        if len(got) < count:
            raise UserError(f"rrr: only {len(got)} usable sentences for {count} items "
                            f"(source has {len(sentences)})")
        return got

    if nat_kinds:
        def eligible(s: str) -> bool:  # every natural item gets every requested rewrite
            return (("paraphrase" not in nat_kinds or rewrite.paraphrase(s) is not None)
                    and ("synonym" not in nat_kinds or bool(rewrite.swap_sites(s))))

        studied = take(n, eligible)
        novel = take(n) if "novel" in nat_kinds else []
        for i, s in enumerate(studied):
            iid = f"nat/{i:04d}"
            items[iid] = s
            foils = {"novel": novel[i] if novel else None, "paraphrase": rewrite.paraphrase(s),
                     "synonym": rewrite.synonym_swap(s, rng)}
            for k in nat_kinds:
                foil = foils[k]
                assert foil is not None and foil != s, (k, s)  # guaranteed by `eligible`
                pairs.append(Pair(f"{iid}/{k}", iid, k, s, foil))
    if "gibberish" in kinds:
        src = take(2 * n_unstructured)
        for i in range(n_unstructured):
            iid = f"gib/{i:04d}"
            items[iid] = rewrite.letter_shuffle(src[2 * i], rng)
            pairs.append(Pair(f"{iid}/gibberish", iid, "gibberish", items[iid],
                              rewrite.letter_shuffle(src[2 * i + 1], rng)))
    if "random" in kinds:
        vocab = _vocabulary(sentences)
        for i in range(n_unstructured):
            iid = f"rnd/{i:04d}"
            items[iid] = " ".join(rng.choice(vocab, RANDOM_WORDS).tolist())
            pairs.append(Pair(f"{iid}/random", iid, "random", items[iid],
                              " ".join(rng.choice(vocab, RANDOM_WORDS).tolist())))
    unrelated = [s for s in pool if s not in used][:n_unrelated]
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()
    return StudySet(items, pairs, unrelated, {
        "source_sentences": len(sentences), "source_sha256": digest, "n_natural": n,
        "n_unstructured": n_unstructured if {"random", "gibberish"} & set(kinds) else 0,
        "kinds": list(kinds), "unrelated": len(unrelated), "seed": seed})
