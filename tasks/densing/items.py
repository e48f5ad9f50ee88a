"""Downstream test items on bioS biographies: an attribute value given the biography before it.

Each item is (prompt, answer, distractors): the prompt is a person's evaluation biography up
to one attribute value, the answer that value, and the distractors K-1 values of the same
attribute drawn from other people (seeded). A model's conditional loss on the item is
-ln P(answer | prompt) (nats, summed over the answer's tokens, the paper's downstream loss);
its score is whether the answer outranks every distractor by log-likelihood (chance 1/K).
The reference family trains on the same people's training biographies; a model that never
saw them (any pretrained LM) can only reach chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memeval.tasks.capacity.bios import text_of
from memeval.tasks.capacity.corpus import BioSCorpus


@dataclass(frozen=True)
class Item:
    item_id: str
    person: int
    attribute: str
    prompt: str
    answer: str  # with its leading space, as it continues the prompt
    distractors: tuple[str, ...]


def make_items(corpus: BioSCorpus, people: range | list[int], k: int = 4,
               seed: int = 0) -> list[Item]:
    rng = np.random.default_rng([seed, 0xD5])
    by_attr: dict[str, list[str]] = {}
    for p in range(corpus.n):
        for text, role in corpus.eval_record(p):
            if role.startswith("value:"):
                by_attr.setdefault(role[6:], []).append(text)
    items = []
    for p in people:
        segs = corpus.eval_record(p)
        for j, (text, role) in enumerate(segs):
            if not role.startswith("value:"):
                continue
            attr = role[6:]
            pool = sorted({v for v in by_attr[attr] if v.strip() != text.strip()})
            picks = rng.choice(len(pool), size=min(k - 1, len(pool)), replace=False)
            items.append(Item(f"p{p:05d}/{attr}", p, attr, text_of(segs[:j]), text,
                              tuple(pool[int(i)] for i in sorted(picks))))
    return items
