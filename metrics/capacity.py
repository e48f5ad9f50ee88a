"""Knowledge-capacity bit counts (Allen-Zhu & Li 2024, Physics of LMs 3.3, arXiv 2404.05405).

Pure functions of the measured losses; every loss is in nats and SUMMED over a span's tokens,
then averaged over people:

bioS:  bits = N log2(N0 / e^p1) + N log2(S0 / e^p2)
bioD:  bits = N log2(N0 / e^p1) + N K log2(D^C / e^p2) + K D log2(T^L / (D e^p3))
R = bits / P. R_max: the same with a perfect model's losses (p1 = ln N, p2 = p3 = 0).

p1: the name's loss. p2 (bioS): the sum over the attributes of each value's loss.
p2 and p3 (bioD): the formula multiplies by K, so here they are PER ATTRIBUTE: the value loss
and the first-chunk loss, each averaged over the K attributes (= the sum over attributes / K).
With a sum the K would count the loss twice: a model that knows K-1 attributes exactly and the
last not at all (loss C ln D) would score 0 value bits instead of (K-1) C log2 D.
"""

from __future__ import annotations

import math

LN2 = math.log(2.0)
N0 = 400 * 400 * 1000  # first x middle x last names
BIRTH_DATES = 12 * 28 * 200
S0 = 2 * BIRTH_DATES * 200 * 300 * 100 * 263  # gender, date, city, university, major, employer
LOG2_N0 = math.log2(N0)  # 27.253
LOG2_S0 = math.log2(S0)  # 47.592


def bits_of_loss(nats: float) -> float:
    return nats / LN2


def name_bits(n: int, p1: float, n0: int = N0) -> float:
    """N log2(N0 / e^p1)."""
    return n * (math.log2(n0) - bits_of_loss(p1))


def bios_bits(n: int, p1: float, p2: float, n0: int = N0, s0: int = S0) -> float:
    """Bits a model with losses (p1, p2) provably stores about N bioS people."""
    return name_bits(n, p1, n0) + n * (math.log2(s0) - bits_of_loss(p2))


def bios_max_bits(n: int, n0: int = N0, s0: int = S0) -> float:
    """R_max numerator: N log2(N0/N) + N log2 S0 (64,879 bits for N = 1,000)."""
    return bios_bits(n, math.log(n), 0.0, n0, s0)


def biod_bits(n: int, k: int, c: int, d: int, l: int, t: int, p1: float, p2: float,
              p3: float, n0: int = N0) -> float:
    """bioD(N,K,C,D,L,T) bits; p2, p3 per attribute (see the module note)."""
    value = n * k * (c * math.log2(d) - bits_of_loss(p2))
    diversity = k * d * (l * math.log2(t) - math.log2(d) - bits_of_loss(p3))
    return name_bits(n, p1, n0) + value + diversity


def biod_max_bits(n: int, k: int, c: int, d: int, l: int, t: int, n0: int = N0) -> float:
    return biod_bits(n, k, c, d, l, t, math.log(n), 0.0, 0.0, n0)


def ratio(bits: float, params: int) -> float:
    """Capacity ratio R (bits per parameter); P excludes unused vocabulary rows."""
    if params <= 0:
        raise ValueError(f"parameter count must be positive, got {params}")
    return bits / params
