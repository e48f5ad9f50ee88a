"""Greedy decoding under a grammar without masking the whole vocabulary at every token.

llama-cpp-python 0.3.x samples a JSON-schema reply with one llama.cpp sampler chain
(penalties, grammar, greedy): at every token the grammar sampler checks each of the
vocabulary's 49,152 SmolLM2 tokens against its parser stacks. Measured on 2 cores: ~4 ms a
token for the grammar against ~0.04 ms for the rest of sampling, beside ~6-8 ms for the decode.

For greedy decoding (temperature 0: every judge's first attempt) the check can be lazy, as
llama.cpp's own `common_sampler` does: take the penalised argmax, ask the grammar about that
one token, and mask the whole vocabulary only when the grammar rejects it. The token is the
same: greedy picks the first index with the largest logit, and if the grammar allows that
token it is also the first largest among the allowed ones. Penalties and grammar run as
llama.cpp's own samplers (the same code and state as the chain), in the chain's order.
Sampling at temperature > 0, mirostat and custom logits processors keep the original chain.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

_TOKEN = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class LazyGrammarGreedy:
    """What `Llama._init_sampler` returns for greedy grammar decoding: `sample(ctx, idx)`
    picks, accepts into the penalties and grammar state, and returns the token."""

    def __init__(self, llama_cpp: Any, vocab: Any, n_vocab: int, grammar: Any, *,
                 last_n: int, repeat: float, freq: float, present: float) -> None:
        self._c = llama_cpp
        self.n_vocab = n_vocab
        self.grammar = self.penalties = None
        # the same arguments as llama-cpp-python's own `add_penalties` (its binding declares
        # n_vocab first), so the penalties are exactly the chain's
        self.penalties = llama_cpp.llama_sampler_init_penalties(n_vocab, last_n, repeat, freq,
                                                                present)
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.grammar:
            llama_cpp.llama_sampler_free(self.penalties)
            raise ValueError("llama.cpp could not parse the grammar")
        self._cur = np.zeros(n_vocab, dtype=_TOKEN)
        self._cur["id"] = np.arange(n_vocab, dtype=np.int32)
        self._one = np.zeros(1, dtype=_TOKEN)
        self.full_masks = 0  # tokens for which the grammar rejected the argmax (for tests)
        self.tokens = 0

    def _apply(self, smpl: Any, arr: np.ndarray) -> None:
        c = self._c
        view = c.llama_token_data_array(
            data=arr.ctypes.data_as(ctypes.POINTER(c.llama_token_data)), size=len(arr),
            selected=-1, sorted=False)
        c.llama_sampler_apply(smpl, ctypes.byref(view))

    def sample(self, ctx: Any, idx: int = -1) -> int:
        c = self._c
        ptr = c.llama_get_logits_ith(ctx.ctx, idx)
        cur = self._cur
        cur["logit"] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        cur["p"] = 0.0
        self._apply(self.penalties, cur)  # per-token logit changes, ids stay in place
        token = int(np.argmax(cur["logit"]))
        self._one[0] = cur[token]
        self._apply(self.grammar, self._one)
        if not np.isfinite(self._one[0]["logit"]):
            self.full_masks += 1
            self._apply(self.grammar, cur)
            token = int(np.argmax(cur["logit"]))
            if not np.isfinite(cur[token]["logit"]):
                raise RuntimeError("the grammar allows no token here")
        self.tokens += 1
        c.llama_sampler_accept(self.penalties, token)
        c.llama_sampler_accept(self.grammar, token)
        return token

    def close(self) -> None:
        if self.grammar:
            self._c.llama_sampler_free(self.grammar)
            self._c.llama_sampler_free(self.penalties)
            self.grammar = self.penalties = None

    def __del__(self) -> None:
        self.close()


def install(llama_mod: Any) -> None:
    """Route `Llama._init_sampler` to LazyGrammarGreedy where it is exact (see above)."""
    cls = llama_mod.Llama
    original = cls._init_sampler

    def init_sampler(self: Any, *args: Any, **kw: Any) -> Any:
        grammar, temp = kw.get("grammar"), kw.get("temp", 0.8)
        if args or grammar is None or temp != 0.0 or kw.get("logits_processor") is not None:
            return original(self, *args, **kw)
        return LazyGrammarGreedy(
            llama_mod.llama_cpp, self._model.vocab, self._n_vocab, grammar,
            last_n=self.last_n_tokens_size, repeat=kw.get("repeat_penalty", 1.0),
            freq=kw.get("frequency_penalty", 0.0), present=kw.get("presence_penalty", 0.0))

    cls._memeval_chain_sampler = original  # llama-cpp-python's own chain (tests compare)
    cls._init_sampler = init_sampler
