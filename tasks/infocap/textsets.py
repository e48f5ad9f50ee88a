"""Text sets for information capacity: the shipped mixed sample, a local JSONL/TXT, or a hub set.

Every text set has a kind (mixed, zh-fineweb-edu, other) that picks the paper's dataset bias
b; the kind is the user's statement (or the shipped set's), never inferred from a file name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memeval.errors import UserError

SHIPPED = Path(__file__).with_name("data") / "mixed.jsonl"


@dataclass(frozen=True)
class Text:
    id: str
    source: str  # prose, code, bios, dialogue for the shipped set; the file or hub name otherwise
    text: str


@dataclass
class TextSet:
    texts: list[Text]
    kind: str | None  # mixed, zh-fineweb-edu, other; None: the user must say
    info: dict[str, Any]


def shipped(split: str = "eval") -> TextSet:
    rows = [json.loads(line) for line in SHIPPED.read_text(encoding="utf-8").splitlines()]
    texts = [Text(r["id"], r["source"], r["text"]) for r in rows if r["split"] == split]
    return TextSet(texts, "mixed", {
        "name": "memeval-mixed", "split": split, "path": str(SHIPPED),
        "source": "memeval (scripts/infocap_textset.py), shipped with the package",
        "sha256": hashlib.sha256(SHIPPED.read_bytes()).hexdigest(),
        "license": "Apache-2.0 (memeval's own docs and code; generated bios and dialogues)",
        "card": "data_cards/infocap_mixed.md", "texts": len(texts)})


def _jsonl(path: Path, field: str) -> Iterator[str]:
    from datasets import load_dataset

    stream = load_dataset("json", data_files=str(path), split="train", streaming=True)
    for i, row in enumerate(stream):
        if row.get(field) is None:  # streaming fills a field absent from a line with None
            present = [k for k, v in row.items() if v is not None]
            raise UserError(f"{path}: line {i + 1} has no field {field!r} (its fields: "
                            f"{', '.join(present) or 'none'}; pick one with text_field=)")
        yield str(row[field])


def _txt(path: Path) -> Iterator[str]:
    """One text per block separated by a blank line."""
    block: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            block.append(line)
        elif block:
            yield "\n".join(block)
            block = []
    if block:
        yield "\n".join(block)


def _hub(spec: str, field: str) -> Iterator[str]:
    from datasets import load_dataset

    name, _, split = spec.partition("@")
    name, _, config = name.partition(":")
    try:
        stream = load_dataset(name, config or None, split=split or "train", streaming=True)
    except Exception as e:  # offline, unknown name, gated: one clear message
        raise UserError(f"hub dataset {spec!r} cannot be opened ({type(e).__name__}: {e}); "
                        "offline, pass a local file with --data PATH") from e
    for row in stream:
        yield str(row[field])


def load(data: str, field: str = "text", limit: int | None = None) -> TextSet:
    """`data`: a .jsonl/.json file (one object per line), a .txt file, or
    hub:NAME[:CONFIG][@SPLIT] (streamed through `datasets`)."""
    if data.startswith("hub:"):
        gen, name, digest = _hub(data[4:], field), data, None
    else:
        path = Path(data)
        if not path.is_file():
            raise UserError(f"--data {data}: no such file")
        if path.suffix in (".jsonl", ".json"):
            gen = _jsonl(path, field)
        elif path.suffix == ".txt":
            gen = _txt(path)
        else:
            raise UserError(f"--data {data}: use a .jsonl or .txt file, or hub:NAME")
        name, digest = path.name, hashlib.sha256(path.read_bytes()).hexdigest()
    texts = []
    for i, text in enumerate(gen):
        if limit is not None and len(texts) >= limit:
            break
        if text.strip():
            texts.append(Text(f"t{i:05d}", name, text))
    if not texts:
        raise UserError(f"--data {data}: no non-empty texts")
    return TextSet(texts, None, {"name": name, "path": data, "sha256": digest,
                                 "source": "hub" if data.startswith("hub:") else "local file",
                                 "texts": len(texts), "field": field})
