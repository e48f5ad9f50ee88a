"""bioS sentence templates: memeval's own, 8 per attribute (the paper used ~50; see data card).

Placeholders: {s} subject (full name in a biography's first sentence, He/She after it),
{p} possessive (his/her), {v} the attribute value, {c} the employer's city.

Why the wording is constrained: a value's loss must measure knowledge of the value, not
uncertainty about the template. So across ALL templates, the words before {v} never form a
proper prefix of another template's words before {v} (checked by `prefix_conflicts`, tested):
otherwise, after "was born in" the model could not tell a city from "the city of ..." and a
perfect model would pay template entropy on the value's first token. Every sentence after the
first starts with the pronoun, so the pronoun is always a gender-revealing token.
"""

from __future__ import annotations

ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "employer")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "{s} was born on {v}.",
        "{s} came into this world on {v}.",
        "{s} entered life on {v}.",
        "{s} has a birth date of {v}.",
        "{s} first saw daylight on {v}.",
        "{s} arrived on {v}.",
        "{s} was brought into the world on {v}.",
        "{s} marks {p} birthday each year, having been born on {v}.",
    ),
    "birth_city": (
        "{s} was born in {v}.",
        "{s} spent {p} early years in {v}.",
        "{s} grew up in {v}.",
        "{s} hails from {v}.",
        "{s} has roots in {v}.",
        "{s} comes from {v}.",
        "{s} was raised in {v}.",
        "{s} calls {v} {p} hometown.",
    ),
    "university": (
        "{s} studied at {v}.",
        "{s} graduated from {v}.",
        "{s} received {p} education at {v}.",
        "{s} attended {v}.",
        "{s} completed {p} degree at {v}.",
        "{s} is a graduate of {v}.",
        "{s} enrolled at {v}.",
        "{s} pursued higher education at {v}.",
    ),
    "major": (
        "{s} majored in {v}.",
        "{s} focused {p} studies on {v}.",
        "{s} completed {p} degree in {v}.",
        "{s} earned a degree in {v}.",
        "{s} specialized in {v}.",
        "{s} devoted {p} college years to {v}.",
        "{s} chose {v} as {p} field of study.",
        "{s} has an academic background in {v}.",
    ),
    "employer": (
        "{s} works at {v} in {c}.",
        "{s} is employed by {v} in {c}.",
        "{s} holds a position at {v} in {c}.",
        "{s} earns a living at {v}, based in {c}.",
        "{s} has a job with {v} in {c}.",
        "{s} is on the staff of {v} in {c}.",
        "{s} draws a salary from {v} in {c}.",
        "{s} spends {p} working days at {v} in {c}.",
    ),
}

PRONOUNS = {"male": ("He", "his"), "female": ("She", "her")}


def split(template: str) -> list[str]:
    """'{s} was born on {v}.' -> ['{s}', ' was born on', ' {v}', '.']: placeholders become
    their own pieces, each keeping the space before it (segment-wise tokenisation)."""
    pieces: list[str] = []
    rest = template
    while rest:
        i = rest.find("{")
        if i < 0:
            pieces.append(rest)
            break
        j = rest.index("}", i) + 1
        start = i - 1 if i > 0 and rest[i - 1] == " " else i
        if start > 0:
            pieces.append(rest[:start])
        pieces.append(rest[start:j])
        rest = rest[j:]
    return pieces


def prefix_words(template: str) -> tuple[str, ...]:
    return tuple(template.split("{v}")[0].split())


def prefix_conflicts() -> list[tuple[str, str]]:
    """Pairs of templates where one's words before {v} properly prefix the other's, or where
    two attributes share the same words before {v}. Empty for a valid template set."""
    flat = [(a, t) for a, ts in TEMPLATES.items() for t in ts]
    bad = []
    for a1, t1 in flat:
        for a2, t2 in flat:
            if t1 == t2:
                continue
            p1, p2 = prefix_words(t1), prefix_words(t2)
            if (len(p1) < len(p2) and p2[:len(p1)] == p1) or (p1 == p2 and a1 != a2):
                bad.append((t1, t2))
    return bad
