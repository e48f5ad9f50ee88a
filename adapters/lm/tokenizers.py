"""Tokenizers for memeval's trainable LMs: a corpus-fitted word tokenizer and HF wrappers.

The word tokenizer exists for models trained from scratch on a closed synthetic corpus
(bioS/bioD): every word or symbol is one token, so a tiny model spends no parameters on
sub-word pieces, and spans (names, values) map to whole tokens. Models with a pretrained
vocabulary use their own tokenizer through `HFTokenizer`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import regex

_WORD = regex.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}'%")

EOS, UNK = "<eos>", "<unk>"


class WordTokenizer:
    """Words (\\w+) and single punctuation marks; ids 0 and 1 are <eos> and <unk>.

    `fit` sorts the vocabulary, so the same corpus gives the same ids in every process.
    Decoding joins with spaces (no space before closing punctuation): lossy on spacing only.
    """

    def __init__(self, vocab: Sequence[str] = ()) -> None:
        self.itos: list[str] = [EOS, UNK] + [w for w in vocab if w not in (EOS, UNK)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.eos_id = self.pad_id = 0
        self.unk_id = 1

    @classmethod
    def fit(cls, corpus: Iterable[str]) -> WordTokenizer:
        words: set[str] = set()
        for text in corpus:
            words.update(_WORD.findall(text))
        return cls(sorted(words))

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, self.unk_id) for w in _WORD.findall(text)]

    def decode(self, ids: Sequence[int]) -> str:
        out: list[str] = []
        for i in ids:
            w = self.itos[i] if 0 <= i < len(self.itos) else UNK
            if out and not (w[0] in _NO_SPACE_BEFORE or out[-1] in "([{"):
                out.append(" ")
            out.append(w)
        return "".join(out)

    def __len__(self) -> int:
        return len(self.itos)

    def info(self) -> dict[str, Any]:
        digest = hashlib.sha256("\n".join(self.itos).encode()).hexdigest()
        return {"kind": "word", "vocab_size": len(self), "vocab_sha256": digest}


class HFTokenizer:
    """A `transformers` tokenizer behind the small interface the packs use."""

    def __init__(self, tok: Any, source: str) -> None:
        self.tok = tok
        self.source = source
        eos = tok.eos_token_id
        if eos is None:
            raise ValueError(f"tokenizer from {source} has no EOS token")
        self.eos_id = int(eos)
        self.pad_id = int(tok.pad_token_id) if tok.pad_token_id is not None else self.eos_id
        self.bos_id = int(tok.bos_token_id) if tok.bos_token_id is not None else None

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode(list(ids), skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False))

    def __len__(self) -> int:
        return len(self.tok)

    def info(self) -> dict[str, Any]:
        return {"kind": "hf", "source": self.source, "vocab_size": len(self),
                "class": type(self.tok).__name__}


_TOK_CACHE: dict[str, HFTokenizer] = {}
_TOK_LOCK = threading.Lock()


def load_hf_tokenizer(path: Path, gguf_file: str | None = None) -> HFTokenizer:
    """Tokenizer of a local checkpoint or GGUF file, loaded once per process (GGUF: ~4 s)."""
    from transformers import AutoTokenizer

    key = f"{path}::{gguf_file or ''}"
    with _TOK_LOCK:
        if key not in _TOK_CACHE:
            kw = {"gguf_file": gguf_file} if gguf_file else {}
            tok = AutoTokenizer.from_pretrained(str(path), **kw)
            _TOK_CACHE[key] = HFTokenizer(tok, key)
        return _TOK_CACHE[key]
