"""memeval.llama_sampling on the real model: greedy decoding under a JSON-schema grammar picks
exactly the tokens of llama-cpp-python's own sampler chain (penalties, grammar over the whole
vocabulary, greedy), exercising both the one-token check and the full mask; seeded sampling at
a temperature does too (grammar over the top-k only); mirostat and top-k off keep the chain."""

from __future__ import annotations

import pytest

from memeval.llama_boot import patch
from memeval.server import model_path

SCHEMA = {"type": "object", "properties": {
    "reasoning": {"type": "string"}, "accuracy_score": {"type": "integer", "enum": [0, 1, 2]},
    "is_included_in_golden_memories": {"type": "boolean"}},
    "required": ["reasoning", "accuracy_score", "is_included_in_golden_memories"]}
LABEL = {"type": "object", "properties": {
    "label": {"type": "string", "enum": ["Correct", "Hallucination", "Omission", "Other"]}},
    "required": ["label"]}
DIALOGUE = "\n".join(f"[2025-0{1 + i % 9}-1{i % 10}] user: I moved to city {i} and adopted a "
                     f"cat called Tom{i}." for i in range(25))
ITEMS = ["The user has a cat called Tom3.", "The user lives in Paris.",
         "The user moved to city 7 in 2025.", "The user dislikes cats."]


@pytest.fixture(scope="module")
def llm():
    patch()
    from llama_cpp import Llama

    return Llama(model_path=str(model_path()), n_ctx=2048, n_threads=2, seed=0, verbose=False)


def _reply(llm, item: str, schema: dict, temperature: float = 0.0, seed: int | None = None) -> str:
    llm.reset()  # every arm decodes the whole prompt: logits do not depend on what came before
    msgs = [{"role": "system", "content": "You judge memories. Answer in JSON."},
            {"role": "user", "content": f"Session dialogue:\n{DIALOGUE}\n\nMemory: {item}"}]
    r = llm.create_chat_completion(msgs, temperature=temperature, max_tokens=96, seed=seed,
                                   repeat_penalty=1.1,  # the server's default: penalties on
                                   response_format={"type": "json_object", "schema": schema})
    return r["choices"][0]["message"]["content"]


def test_lazy_grammar_greedy_gives_the_chain_tokens(llm, monkeypatch):
    from llama_cpp import Llama

    from memeval.llama_sampling import LazyGrammarGreedy

    lazy, tokens, masks = [], 0, 0
    for item in ITEMS:
        for schema in (SCHEMA, LABEL):
            lazy.append(_reply(llm, item, schema))
            assert isinstance(llm._sampler, LazyGrammarGreedy)
            tokens += llm._sampler.tokens
            masks += llm._sampler.full_masks
    monkeypatch.setattr(Llama, "_init_sampler", Llama._memeval_chain_sampler)
    chain = [_reply(llm, item, schema) for item in ITEMS for schema in (SCHEMA, LABEL)]
    assert lazy == chain
    # both paths ran: most tokens passed the one-token check, some needed the full mask
    assert 0 < masks < tokens, (masks, tokens)


def test_lazy_top_k_at_a_temperature_gives_the_chain_tokens(llm, monkeypatch):
    """Seeded sampling at mem0's 0.1 and A-Mem's 1.0: the same text as the chain, token for
    token (a different array before the dist sampler would change some draws)."""
    from llama_cpp import Llama

    from memeval.llama_sampling import LazyGrammarTopK

    cases = [(item, schema, temp, seed) for temp, seed in ((0.1, 1), (1.0, 7))
             for item in ITEMS[:2] for schema in (SCHEMA, LABEL)]
    lazy, tokens, masks = [], 0, 0
    for item, schema, temp, seed in cases:
        lazy.append(_reply(llm, item, schema, temp, seed))
        assert isinstance(llm._sampler, LazyGrammarTopK)
        tokens += llm._sampler.tokens
        masks += llm._sampler.full_masks
    monkeypatch.setattr(Llama, "_init_sampler", Llama._memeval_chain_sampler)
    chain = [_reply(llm, *case) for case in cases]
    assert lazy == chain
    assert len(set(chain)) > len(chain) // 2  # not one reply for all: the cases differ
    assert 0 < masks < tokens, (masks, tokens)


def test_mirostat_and_top_k_off_keep_the_chain(llm):
    from memeval.llama_sampling import LazyGrammarGreedy

    llm.create_chat_completion([{"role": "user", "content": "Hi"}], temperature=0.3, top_k=0,
                               max_tokens=4, response_format={"type": "json_object",
                                                              "schema": LABEL})
    assert not isinstance(llm._sampler, LazyGrammarGreedy)
    llm.create_chat_completion([{"role": "user", "content": "Hi"}], temperature=0.3,
                               mirostat_mode=2, max_tokens=4,
                               response_format={"type": "json_object", "schema": LABEL})
    assert not isinstance(llm._sampler, LazyGrammarGreedy)
