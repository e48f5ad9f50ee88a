"""memeval.llama_boot on the real model: a multi-token prompt decodes (with repacking on, this
AMX machine segfaulted), and a RAM-cached KV state restored without its logits copy gives the
same greedy text as a fresh context, while the saved state holds no logits array."""

from __future__ import annotations

import pytest

from memeval.llama_boot import patch
from memeval.server import model_path

DIALOGUE = " ".join(f"Turn {i}: Alice told Bob about her trip to city number {i}."
                    for i in range(40))
PROMPTS = [f"{DIALOGUE}\nQuestion: which city came first?", "Name a colour.",
           f"{DIALOGUE}\nQuestion: who told the stories?", "Name a fruit.",
           f"{DIALOGUE}\nQuestion: how many turns were there?"]


@pytest.fixture(scope="module")
def llama():
    patch()
    from llama_cpp import Llama

    return lambda: Llama(model_path=str(model_path()), n_ctx=2048, n_threads=2, seed=0,
                         verbose=False)


def _answers(llm) -> list[str]:
    return [llm.create_completion(p, max_tokens=12, temperature=0)["choices"][0]["text"]
            for p in PROMPTS]


def test_cached_states_restore_to_the_same_greedy_text(llama, monkeypatch):
    from llama_cpp import Llama, LlamaRAMCache

    loads = []
    lean_load = Llama.load_state
    monkeypatch.setattr(Llama, "load_state",
                        lambda self, st: (loads.append(st.n_tokens), lean_load(self, st))[1])

    fresh = []
    for p in PROMPTS:  # a new context per prompt: nothing reused
        fresh.append(_answers_one(llama(), p))
    cached = llama()
    cache = LlamaRAMCache(capacity_bytes=256 << 20)
    cached.set_cache(cache)
    assert _answers(cached) == fresh
    states = list(cache.cache_state.values())
    assert len(states) == len(PROMPTS)
    # the dialogue prompts alternate with short ones: the 2nd and 3rd dialogue prompts resumed
    # from a restored state of the dialogue, and no state carries the 100 MB logits copy
    assert sum(n > 400 for n in loads) == 2, loads
    assert all(s.scores.size == 0 and s.llama_state_size > 0 for s in states)


def _answers_one(llm, prompt: str) -> str:
    return llm.create_completion(prompt, max_tokens=12, temperature=0)["choices"][0]["text"]
