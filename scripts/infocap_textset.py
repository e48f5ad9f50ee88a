#!/usr/bin/env python3
"""Rebuild the infocap pack's shipped mixed text set (tasks/infocap/data/mixed.jsonl).

    .venv/bin/python scripts/infocap_textset.py

License-clean by construction: four sources that memeval owns or generates. prose: memeval's
own documentation (Apache-2.0); code: memeval's own Python source (Apache-2.0); bios: bioS
biographies from the knowledge-capacity generator (Faker values); dialogue: halumem-synth
conversations. Each chunk is ~4,500 characters (over 1,024 SmolLM2 tokens, so the 1,024-token
truncation applies as in the paper). Chunks go to "eval" (8 per source) or "train", so the
tiny reference family never trains on a text it is scored on. The file is frozen: the
documents it draws from change with every commit, and results must not.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tasks" / "infocap" / "data" / "mixed.jsonl"
CHUNK = 4500
EVAL = 8  # per source; the rest of each source (up to TRAIN) is the training corpus
TRAIN = {"prose": 9, "code": 30, "bios": 30, "dialogue": 30}
DOCS = ["README.md", "CONTRIBUTING.md", "adapters/README.md", *sorted(
    str(p.relative_to(REPO)) for p in (REPO / "data_cards").glob("*.md"))]
CODE_ROOTS = ["memeval", "tasks", "adapters", "metrics"]


def chunks(text: str, sep: str) -> list[str]:
    out, cur = [], ""
    for part in text.split(sep):
        cur = f"{cur}{sep}{part}" if cur else part
        if len(cur) >= CHUNK:
            out.append(cur[:CHUNK * 2])
            cur = ""
    return out


def prose() -> list[str]:
    """The documents, then every module docstring (memeval has ~85 kB of prose in all)."""
    import ast

    text = "\n\n".join((REPO / d).read_text(encoding="utf-8") for d in DOCS)
    for f in sorted(p for r in CODE_ROOTS for p in (REPO / r).rglob("*.py")):
        doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8")))
        text += f"\n\n{doc}" if doc else ""
    return chunks(text, "\n\n")


def code() -> list[str]:
    files = sorted(p for r in CODE_ROOTS for p in (REPO / r).rglob("*.py"))
    return [c for f in files for c in chunks(f.read_text(encoding="utf-8"), "\n")]


def bios() -> list[str]:
    from memeval.tasks.capacity.bios import layout_for, render, sample_people, text_of

    people = sample_people(2400, seed=11)
    docs, cur = [], []
    for i, p in enumerate(people):
        cur.append(text_of(render(p, layout_for(p, "bioS", 11, i % 5))))
        if sum(len(x) + 2 for x in cur) >= CHUNK:
            docs.append("\n\n".join(cur))
            cur = []
    return docs


def dialogue() -> list[str]:
    from memeval.tasks.halumem.synth import generate

    lines = []
    for seed in range(12):
        for user in generate("small", seed=seed):
            for s in user["sessions"]:
                lines += [f"{t['role']}: {t['content']}" for t in s["dialogue"]]
                lines.append("")
    return chunks("\n".join(lines), "\n")


def main() -> int:
    rows = []
    for source, make in (("prose", prose), ("code", code), ("bios", bios),
                         ("dialogue", dialogue)):
        want = {"eval": EVAL, "train": TRAIN[source]}
        taken = {"eval": 0, "train": 0}
        for i, text in enumerate(make()):
            # interleaved (4 of every 9 chunks to eval while it needs them): both splits
            # draw from the whole of each source, not its first files only
            split = "eval" if i % 9 < 4 and taken["eval"] < EVAL or \
                taken["train"] >= want["train"] else "train"
            if taken[split] < want[split]:
                rows.append({"id": f"{source}-{i:03d}", "source": source, "split": split,
                             "text": text})
                taken[split] += 1
        if taken != want:
            raise SystemExit(f"{source}: only {taken} chunks (want {want})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} chunks -> {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
