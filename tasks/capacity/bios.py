"""bioS / bioS-simple biographies (Allen-Zhu & Li 3.1) as role-tagged text segments.

A biography is a list of (text, role) segments; roles say which spans are measured:
"name" (p1), "gender" (every pronoun; the first one is the gender value), "value:<attribute>"
(p2), anything else is template text. The company city is determined by the employer, so it is
template text here (not part of S0).

bioS draws the template of every attribute and the sentence order afresh at every exposure;
bioS-simple draws them once per person and repeats the same biography.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memeval.tasks.capacity.templates import ATTRIBUTES, PRONOUNS, TEMPLATES, split
from memeval.tasks.capacity.values import DAYS, MONTHS, YEARS, ValueLists, value_lists

Segment = tuple[str, str]  # (text, role)


@dataclass(frozen=True)
class Person:
    """Indices into the value lists; `name` = (first, middle, last)."""

    pid: int
    name: tuple[int, int, int]
    gender: int  # 0 male, 1 female
    birth_date: tuple[int, int, int]  # month 0..11, day 0..27, year 0..199
    birth_city: int
    university: int
    major: int
    employer: int

    def values(self, v: ValueLists) -> dict[str, str]:
        m, d, y = self.birth_date
        return {"name": " ".join((v.first[self.name[0]], v.middle[self.name[1]],
                                  v.last[self.name[2]])),
                "gender": ("male", "female")[self.gender],
                "birth_date": f"{MONTHS[m]} {d + 1}, {YEARS[y]}",
                "birth_city": v.cities[self.birth_city],
                "university": v.universities[self.university],
                "major": v.majors[self.major],
                "employer": v.employers[self.employer],
                "employer_city": v.cities[v.employer_city[self.employer]]}


def draw_distinct(rng: np.random.Generator, n: int, population: int) -> list[int]:
    """n distinct integers below `population`, in draw order (sampling without replacement
    that never materialises the population: N0 is 1.6e8)."""
    if n > population:
        raise ValueError(f"cannot draw {n} distinct items from {population}")
    seen: dict[int, None] = {}
    while len(seen) < n:
        for x in rng.integers(0, population, n - len(seen)).tolist():
            seen.setdefault(int(x), None)
    return list(seen)[:n]


def sample_people(n: int, seed: int, v: ValueLists | None = None) -> list[Person]:
    """N people with distinct names; every attribute uniform and independent."""
    v = v or value_lists()
    rng = np.random.default_rng([seed, 0xB105])
    nf, nm, nl = len(v.first), len(v.middle), len(v.last)
    names = draw_distinct(rng, n, nf * nm * nl)
    people = []
    for pid, code in enumerate(names):
        people.append(Person(
            pid=pid, name=(code // (nm * nl), (code // nl) % nm, code % nl),
            gender=int(rng.integers(2)),
            birth_date=(int(rng.integers(len(MONTHS))), int(rng.integers(DAYS)),
                        int(rng.integers(len(YEARS)))),
            birth_city=int(rng.integers(len(v.cities))),
            university=int(rng.integers(len(v.universities))),
            major=int(rng.integers(len(v.majors))),
            employer=int(rng.integers(len(v.employers)))))
    return people


@dataclass(frozen=True)
class Layout:
    """Which template each attribute uses and the sentence order."""

    templates: tuple[int, ...]  # per attribute, in ATTRIBUTES order
    order: tuple[int, ...]  # permutation of attribute indices


def draw_layout(rng: np.random.Generator) -> Layout:
    return Layout(tuple(int(rng.integers(len(TEMPLATES[a]))) for a in ATTRIBUTES),
                  tuple(int(i) for i in rng.permutation(len(ATTRIBUTES))))


def layout_for(person: Person, variant: str, seed: int, exposure: int) -> Layout:
    """bioS: a new layout per (person, exposure); bioS-simple: one per person."""
    if variant == "bioS-simple":
        return draw_layout(np.random.default_rng([seed, 0x51, person.pid]))
    if variant == "bioS":
        return draw_layout(np.random.default_rng([seed, 0x5, exposure, person.pid]))
    raise ValueError(f"unknown biography variant {variant!r} (bioS, bioS-simple)")


def render(person: Person, layout: Layout, v: ValueLists | None = None) -> list[Segment]:
    v = v or value_lists()
    vals = person.values(v)
    subj, poss = PRONOUNS[vals["gender"]]
    segs: list[Segment] = []
    for k, ai in enumerate(layout.order):
        attr = ATTRIBUTES[ai]
        for piece in split(TEMPLATES[attr][layout.templates[ai]]):
            lead = " " if piece.startswith(" ") else ""
            key = piece.strip()
            if key == "{s}":
                first = k == 0
                segs.append(((" " if segs else "") + (vals["name"] if first else subj),
                             "name" if first else "gender"))
            elif key == "{p}":
                segs.append((lead + poss, "gender"))
            elif key == "{v}":
                segs.append((lead + vals[attr], f"value:{attr}"))
            elif key == "{c}":
                segs.append((lead + vals["employer_city"], "text"))
            else:
                segs.append((piece, "text"))
    return segs


def text_of(segments: list[Segment]) -> str:
    return "".join(t for t, _ in segments)
