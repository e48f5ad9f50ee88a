"""lm-eval's three `LM` methods and per-token scoring, over three small backend hooks.

A backend supplies `_encode` (text -> ids, no special tokens), `_decode_bytes` (ids -> the
UTF-8 bytes they decode to together), `_targets` (token sequences -> per predicted token:
float32 log-softmax log-probability and whether it was the argmax) and `_greedy`; this mixin
turns them into `loglikelihood`, `loglikelihood_rolling`, `generate_until` (the semantics of
lm-eval's HFLM: trailing context whitespace moves to the continuation, the continuation is
what the joint encoding adds to the context's, windows as `get_rolling_token_windows`) and
`score_tokens` (information capacity). Requests may be lm-eval `Instance`s or plain tuples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from memeval.contracts import TokenScores

LN2 = math.log(2.0)


def _args(req: Any) -> tuple[Any, ...]:
    return tuple(req.args) if hasattr(req, "args") else tuple(req)


def log_softmax_at(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 log-softmax of each row at its target (log of a softmax underflows to -inf
    where this stays finite), and whether the target was the row's argmax."""
    x = np.asarray(logits, dtype=np.float32)
    m = x.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(x - m, dtype=np.float32).sum(axis=1, dtype=np.float32))
    rows = np.arange(len(targets))
    return (x[rows, targets] - lse).astype(np.float32), x.argmax(axis=1) == targets


class TokenLM:
    """Mixin: subclasses implement the hooks and set `prefix_token_id`, `max_length`."""

    prefix_token_id: int
    max_length: int

    # ---- hooks ----
    def _encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def _decode_bytes(self, ids: Sequence[int]) -> bytes:
        raise NotImplementedError

    def _targets(self, seqs: Sequence[Sequence[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sequence: (log p of tokens 1.., greedy flags), each of length len(seq) - 1."""
        raise NotImplementedError

    def _greedy(self, ids: Sequence[int], max_new: int, until: Sequence[str]) -> str:
        raise NotImplementedError

    # ---- lm-eval's LM interface ----
    def _split(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        n = len(context) - len(context.rstrip())
        if n:
            context, continuation = context[:-n], context[-n:] + continuation
        if not context:
            return [self.prefix_token_id], self._encode(continuation)
        whole, ctx = self._encode(context + continuation), self._encode(context)
        return ctx, whole[len(ctx):]

    def loglikelihood(self, requests: Sequence[Any], disable_tqdm: bool = True) \
            -> list[tuple[float, bool]]:
        seqs, lens = [], []
        for req in requests:
            ctx, cont = self._split(*_args(req)[:2])
            seqs.append((ctx + cont)[-(self.max_length + 1):])
            lens.append(len(cont))
        out = []
        for (lp, greedy), n in zip(self._targets(seqs), lens, strict=True):
            tail = slice(len(lp) - n, None)
            out.append((float(lp[tail].sum(dtype=np.float64)), bool(greedy[tail].all())))
        return out

    def loglikelihood_rolling(self, requests: Sequence[Any],
                              disable_tqdm: bool = True) -> list[float]:
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        out = []
        for req in requests:
            windows = [make_disjoint_window(w) for w in get_rolling_token_windows(
                token_list=self._encode(_args(req)[0]), prefix_token=self.prefix_token_id,
                max_seq_len=self.max_length, context_len=1)]
            scored = self._targets([list(c) + list(p) for c, p in windows])
            out.append(float(sum(lp[len(lp) - len(p):].sum(dtype=np.float64)
                                 for (lp, _), (_, p) in zip(scored, windows, strict=True))))
        return out

    def generate_until(self, requests: Sequence[Any], disable_tqdm: bool = True) -> list[str]:
        out = []
        for req in requests:
            context, gen = _args(req)[:2]
            gen = dict(gen or {})
            until = gen.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            max_new = int(gen.get("max_gen_toks", 256))
            ids = self._encode(context)[-max(1, self.max_length - max_new):]
            text = self._greedy(ids, max_new, until)
            for stop in until:
                text = text.split(stop)[0]
            out.append(text)
        return out

    # ---- information capacity ----
    def score_tokens(self, texts: Sequence[str], max_tokens: int = 1024) -> list[TokenScores]:
        encoded = [self._encode(t) for t in texts]
        seqs = [ids[:max_tokens] for ids in encoded]
        live = [i for i, s in enumerate(seqs) if len(s) > 1]
        scored = dict(zip(live, self._targets([seqs[i] for i in live]), strict=True))
        out = []
        for i, (ids, seq) in enumerate(zip(encoded, seqs, strict=True)):
            if i not in scored:
                out.append(TokenScores(tokens=0, text_bytes=0, nll_bits=0.0,
                                       input_tokens=len(ids)))
                continue
            lp = scored[i][0]
            out.append(TokenScores(tokens=len(seq) - 1, text_bytes=len(self._decode_bytes(seq[1:])),
                                   nll_bits=float(-lp.sum(dtype=np.float64) / LN2),
                                   input_tokens=len(ids)))
        return out


class HFTokenized(TokenLM):
    """The text hooks of a backend that tokenizes with a transformers tokenizer (`self.tok`)."""

    tok: Any

    def _encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def _decode_bytes(self, ids: Sequence[int]) -> bytes:
        return str(self.tok.decode(list(ids), skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)).encode("utf-8")
