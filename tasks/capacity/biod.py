"""bioD(N, K, C, D, L, T) (Allen-Zhu & Li 3.3): synthetic knowledge with tunable diversity.

Every attribute k has a diversity set of D distinct strings of L tokens over an alphabet of T
symbols; a person's value for k is C chunks, each drawn from that set. A record is the name,
then per attribute its keyword token and the C*L value tokens, in a fixed attribute order.

Names keep bioS's N0 = 400 x 400 x 1000 combinations, written either as bioS's three name
words (names="words": one token per part with the word tokenizer, like short BPE names) or in
a small symbol alphabet (names="symbols") so a tiny model spends few parameters on name
embeddings: first and middle index (0..399) as two base-20 digits each, last index (0..999)
as three base-10 digits: 7 name tokens, each digit position with its own symbols (a0..a19,
b0.., ..., g0..g9: 130 symbols). Symbols are whitespace-separated words (a3, k0, t12), one
token each for the word tokenizer; any other tokenizer sees the same text and the spans stay
exact (segment encoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memeval.tasks.capacity.bios import Segment, draw_distinct
from memeval.tasks.capacity.values import N_FIRST, N_LAST, N_MIDDLE, value_lists


@dataclass(frozen=True)
class BioDSpec:
    n: int
    k: int = 4
    c: int = 2
    d: int = 64
    l: int = 2  # noqa: E741 - the paper's name
    t: int = 16
    names: str = "symbols"  # "symbols": 7 small-alphabet tokens; "words": bioS's 3 name words

    def __post_init__(self) -> None:
        if min(self.n, self.k, self.c, self.d, self.l, self.t) < 1:
            raise ValueError(f"bioD parameters must be positive: {self}")
        if self.names not in ("symbols", "words"):
            raise ValueError(f"bioD names must be 'symbols' or 'words', got {self.names!r}")
        if self.d > self.t ** self.l:
            raise ValueError(f"bioD: D={self.d} distinct strings need T^L >= D "
                             f"(T={self.t}, L={self.l})")


@dataclass(frozen=True)
class BioDData:
    spec: BioDSpec
    names: list[tuple[int, int, int]]
    dictionaries: list[list[tuple[int, ...]]]  # [k][j] -> L symbols
    values: list[list[tuple[int, ...]]]  # [person][k] -> C indices into dictionaries[k]


# One symbol set per name position (a..g): the token itself says which digit of which name part
# it is, so a small model can tell people apart from a bag of name tokens.
NAME_POSITIONS = "abcdefg"
NAME_BASES = (20, 20, 20, 20, 10, 10, 10)


def _digits(x: int, base: int, width: int) -> list[int]:
    return [(x // base ** (width - 1 - i)) % base for i in range(width)]


def name_symbols(name: tuple[int, int, int], kind: str = "symbols") -> list[str]:
    first, middle, last = name
    if kind == "words":
        v = value_lists()
        return [v.first[first], v.middle[middle], v.last[last]]
    digits = _digits(first, 20, 2) + _digits(middle, 20, 2) + _digits(last, 10, 3)
    return [f"{NAME_POSITIONS[i]}{d}" for i, d in enumerate(digits)]


def name_alphabet() -> list[str]:
    return [f"{p}{d}" for p, base in zip(NAME_POSITIONS, NAME_BASES) for d in range(base)]


def generate(spec: BioDSpec, seed: int) -> BioDData:
    rng = np.random.default_rng([seed, 0xB10D])
    codes = draw_distinct(rng, spec.n, N_FIRST * N_MIDDLE * N_LAST)
    names = [(c // (N_MIDDLE * N_LAST), (c // N_LAST) % N_MIDDLE, c % N_LAST) for c in codes]
    dictionaries = []
    for _ in range(spec.k):
        picks = draw_distinct(rng, spec.d, spec.t ** spec.l)
        dictionaries.append([tuple(_digits(p, spec.t, spec.l)) for p in picks])
    values = [[tuple(int(j) for j in rng.integers(0, spec.d, spec.c)) for _ in range(spec.k)]
              for _ in range(spec.n)]
    return BioDData(spec, names, dictionaries, values)


def render(data: BioDData, person: int) -> list[Segment]:
    """Segments with roles "name", "text" (attribute keywords) and "value:<k>:<chunk>"."""
    segs: list[Segment] = [(" ".join(name_symbols(data.names[person], data.spec.names)),
                            "name")]
    for k in range(data.spec.k):
        segs.append((f" k{k}", "text"))
        for c, j in enumerate(data.values[person][k]):
            chunk = " ".join(f"t{s}" for s in data.dictionaries[k][j])
            segs.append((f" {chunk}", f"value:{k}:{c}"))
    return segs
