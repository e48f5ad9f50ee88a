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

At a temperature, the same laziness holds for top-k: if the grammar allows each of the k best
tokens, the chain's grammar-then-top-k array is exactly those k (LazyGrammarTopK). Measured:
a 200-token JSON reply at temperature 0.1 took 23 ms a token with the chain, 13-14 ms greedy.
Mirostat, a top-k of 0 (off) and custom logits processors keep the original chain.
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
        self.full_masks = 0  # tokens for which the lazy check fell back to the full mask
        self.tokens = 0

    def _apply(self, smpl: Any, arr: np.ndarray) -> None:
        c = self._c
        view = c.llama_token_data_array(
            data=arr.ctypes.data_as(ctypes.POINTER(c.llama_token_data)), size=len(arr),
            selected=-1, sorted=False)
        c.llama_sampler_apply(smpl, ctypes.byref(view))

    def _penalized(self, ctx: Any, idx: int) -> np.ndarray:
        """The whole vocabulary's logits after the penalties, ids in place (not sorted)."""
        ptr = self._c.llama_get_logits_ith(ctx.ctx, idx)
        cur = self._cur
        cur["logit"] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        cur["p"] = 0.0
        self._apply(self.penalties, cur)  # per-token logit changes, ids stay in place
        return cur

    def _accept(self, token: int) -> int:
        self.tokens += 1
        self._c.llama_sampler_accept(self.penalties, token)
        self._c.llama_sampler_accept(self.grammar, token)
        return token

    def sample(self, ctx: Any, idx: int = -1) -> int:
        cur = self._penalized(ctx, idx)
        token = int(np.argmax(cur["logit"]))
        self._one[0] = cur[token]
        self._apply(self.grammar, self._one)
        if not np.isfinite(self._one[0]["logit"]):
            self.full_masks += 1
            self._apply(self.grammar, cur)
            token = int(np.argmax(cur["logit"]))
            if not np.isfinite(cur[token]["logit"]):
                raise RuntimeError("the grammar allows no token here")
        return self._accept(token)

    def close(self) -> None:
        if self.grammar:
            self._c.llama_sampler_free(self.grammar)
            self._c.llama_sampler_free(self.penalties)
            self.grammar = self.penalties = None

    def __del__(self) -> None:
        self.close()


class LazyGrammarTopK(LazyGrammarGreedy):
    """llama-cpp-python's chain at a temperature (penalties, grammar, top-k, typical, top-p,
    min-p, temperature, seeded dist) with the grammar asked about the k best tokens only.

    The chain's top-k keeps the k best tokens the grammar allows. When the grammar allows all
    k best of the unmasked logits and the k+1 best logits are distinct, those are the same
    tokens in the same order (every other token scores strictly lower, or is masked), so the
    samplers after top-k see the same array. Otherwise the whole vocabulary is masked and the
    chain continues as llama-cpp-python runs it. The samplers after top-k are llama.cpp's own,
    and one seeded dist sampler draws once per token on both paths, as the chain's does."""

    def __init__(self, llama_cpp: Any, vocab: Any, n_vocab: int, grammar: Any, *, top_k: int,
                 typical_p: float, top_p: float, min_p: float, temp: float, seed: int,
                 **penalties: Any) -> None:
        super().__init__(llama_cpp, vocab, n_vocab, grammar, **penalties)
        c = llama_cpp
        self.k = top_k
        self.tail = [c.llama_sampler_init_top_k(top_k), c.llama_sampler_init_typical(typical_p, 1),
                     c.llama_sampler_init_top_p(top_p, 1), c.llama_sampler_init_min_p(min_p, 1),
                     c.llama_sampler_init_temp(temp), c.llama_sampler_init_dist(seed)]
        self._top = np.zeros(top_k, dtype=_TOKEN)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        c, k = self._c, self.k
        cur = self._penalized(ctx, idx)
        logits = cur["logit"]
        best = np.argpartition(logits, -(k + 1))[-(k + 1):]
        best = best[np.argsort(-logits[best], kind="stable")]
        top = self._top
        top[:] = cur[best[:k]]
        self._apply(self.grammar, top)
        vals = logits[best]
        if np.isfinite(top["logit"]).all() and bool(np.all(vals[:-1] > vals[1:])):
            arr, is_sorted = top, True
        else:
            self.full_masks += 1
            arr, is_sorted = cur.copy(), False  # the samplers below reorder it; cur keeps ids
            self._apply(self.grammar, arr)
        view = c.llama_token_data_array(
            data=arr.ctypes.data_as(ctypes.POINTER(c.llama_token_data)), size=len(arr),
            selected=-1, sorted=is_sorted)
        for smpl in self.tail:  # one array through all of them, as in the chain
            c.llama_sampler_apply(smpl, ctypes.byref(view))
        if view.selected < 0:
            raise RuntimeError("the sampler chain selected no token")
        return self._accept(int(arr[view.selected]["id"]))

    def close(self) -> None:
        for smpl in getattr(self, "tail", []):
            self._c.llama_sampler_free(smpl)
        self.tail = []
        super().close()


def install(llama_mod: Any) -> None:
    """Route `Llama._init_sampler` to LazyGrammarGreedy where it is exact (see above)."""
    cls = llama_mod.Llama
    original = cls._init_sampler

    def init_sampler(self: Any, *args: Any, **kw: Any) -> Any:
        grammar, temp = kw.get("grammar"), kw.get("temp", 0.8)
        top_k = kw.get("top_k", 40)  # the defaults of llama-cpp-python's _init_sampler
        if args or grammar is None or temp < 0.0 or kw.get("logits_processor") is not None \
                or kw.get("mirostat_mode", 0) != 0 \
                or (temp > 0.0 and not 0 < top_k < self._n_vocab):
            return original(self, *args, **kw)
        common = dict(last_n=self.last_n_tokens_size, repeat=kw.get("repeat_penalty", 1.0),
                      freq=kw.get("frequency_penalty", 0.0),
                      present=kw.get("presence_penalty", 0.0))
        if temp == 0.0:
            return LazyGrammarGreedy(llama_mod.llama_cpp, self._model.vocab, self._n_vocab,
                                     grammar, **common)
        return LazyGrammarTopK(
            llama_mod.llama_cpp, self._model.vocab, self._n_vocab, grammar, top_k=top_k,
            typical_p=kw.get("typical_p", 1.0), top_p=kw.get("top_p", 0.95),
            min_p=kw.get("min_p", 0.05), temp=temp, seed=self._seed, **common)

    cls._memeval_chain_sampler = original  # llama-cpp-python's own chain (tests compare)
    cls._init_sampler = init_sampler
