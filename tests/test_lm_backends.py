"""Language models as systems: one SmolLM2-135M through three backends (memeval's torch LM,
lm-eval's HFLM, llama.cpp in-process), and vLLM in its own environment (the extra that
./scripts/test installs).

The references are independent of the code under test: lm-eval's own HFLM for the
loglikelihood methods, and the backends against each other for token scoring (same tokens
and bytes everywhere; llama.cpp computes with Q4_1 weights and 8-bit activations, so its NLL
differs within the stated tolerance)."""

from __future__ import annotations

import inspect
import json
import os

import pytest

from memeval import registry
from memeval.adapters.lm.vllm_lm import NOT_INSTALLED, vllm_python
from memeval.contracts import LanguageModel, TokenScorer, provides
from memeval.errors import UserError

# lm-eval loads its task data through `datasets`: nothing may be fetched (read at its import)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEXTS = ["The capital of France is Paris. Café au lait, s'il vous plaît!",
         "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5\n" * 20]
# relative, on NLL bits per token pooled over the shipped set's first text of each source at
# 256 tokens: the Q4_1 weights are the same in every backend, but llama.cpp's kernels quantize
# activations to 8 bits (measured: 0.1-2 % on long texts, up to 4 % on a 21-token one)
LLAMACPP_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def backends():
    from memeval.adapters.lm.hf import SmolLM2
    from memeval.adapters.lm.llamacpp import SmolLM2LlamaCpp
    from memeval.adapters.lm.lmeval_hf import SmolLM2HF

    torch_lm = SmolLM2(threads=2)
    torch_lm.prepare()
    out = {"torch": torch_lm, "hf": SmolLM2HF(threads=2), "llamacpp": SmolLM2LlamaCpp(threads=2)}
    yield out
    for lm in out.values():
        lm.close()


def _pooled(scores) -> float:
    return sum(s.nll_bits for s in scores) / sum(s.tokens for s in scores)


def test_every_backend_is_a_language_model_and_token_scorer(backends) -> None:
    for name, lm in backends.items():
        assert isinstance(lm, LanguageModel) and isinstance(lm, TokenScorer), name
        assert provides(lm.kind, "language-model")


def test_token_scores_agree_across_backends(backends) -> None:
    got = {name: lm.score_tokens(TEXTS, max_tokens=64) for name, lm in backends.items()}
    ref = got["hf"]
    assert ref[0].input_tokens == 22 and ref[0].tokens == 21  # the first token is not predicted
    assert ref[1].input_tokens > 64 and ref[1].tokens == 63  # truncated to max_tokens
    for name, scores in got.items():
        assert [(s.tokens, s.text_bytes, s.input_tokens) for s in scores] == \
            [(s.tokens, s.text_bytes, s.input_tokens) for s in ref], name
    # the predicted tokens of the short text decode to all of it but its first token "The"
    assert ref[0].text_bytes == len(TEXTS[0].encode("utf-8")) - len("The")
    assert _pooled(got["torch"]) == pytest.approx(_pooled(ref), rel=1e-5)


def test_llamacpp_nll_within_tolerance_on_the_shipped_set(backends) -> None:
    from memeval.tasks.infocap.textsets import shipped

    texts = list({t.source: t.text for t in reversed(shipped().texts)}.values())
    ref = _pooled(backends["hf"].score_tokens(texts, 256))
    got = _pooled(backends["llamacpp"].score_tokens(texts, 256))
    print(f"pooled NLL bits/token: hf {ref:.4f}, llama.cpp {got:.4f} ({got / ref - 1:+.2%})")
    assert got == pytest.approx(ref, rel=LLAMACPP_TOLERANCE)


def test_mixin_matches_lm_eval_hflm(backends) -> None:
    """memeval's loglikelihood methods (torch backend) against lm-eval's HFLM, same weights."""
    ours, theirs = backends["torch"], backends["hf"]
    reqs = [("The capital of France is", " Paris"), ("", "Hello"), ("2 + 2 = ", "4")]
    for (a, ga), (b, gb) in zip(ours.loglikelihood(reqs), theirs.loglikelihood(reqs)):
        assert a == pytest.approx(b, abs=1e-3) and ga == gb
    roll = [(TEXTS[0],), (TEXTS[1],)]
    for a, b in zip(ours.loglikelihood_rolling(roll), theirs.loglikelihood_rolling(roll)):
        assert a == pytest.approx(b, rel=1e-4) and a < 0
    gen = [("The capital of France is", {"until": ["\n", "."], "max_gen_toks": 8})]
    assert ours.generate_until(gen) == theirs.generate_until(gen) == \
        backends["llamacpp"].generate_until(gen) == [" Paris"]


def test_llamacpp_loglikelihood_keeps_the_last_token(backends) -> None:
    """lm-eval's gguf backend drops the continuation's last token; here a two-token
    continuation scores less than its first token alone."""
    lm = backends["llamacpp"]
    one, two = lm.loglikelihood([("The capital of France is", " Paris"),
                                 ("The capital of France is", " Paris.")])
    assert two[0] < one[0] < 0
    assert one[0] == pytest.approx(backends["hf"].loglikelihood(
        [("The capital of France is", " Paris")])[0][0], abs=0.05)


def test_flop_configs_agree(backends) -> None:
    from memeval.metrics.infocap import flops_per_token

    flops = {n: flops_per_token(lm.hf_config()) for n, lm in backends.items()}
    assert all(f == pytest.approx(3.043146e8, rel=2e-7) for f in flops.values()), flops


@pytest.mark.parametrize("backend", ["torch", "hf", "llamacpp"])
def test_backend_option_picks_the_class(backend: str) -> None:
    cls, rest = registry.resolve_system("smollm2-135m", {"backend": backend, "threads": 2})
    assert rest == {"threads": 2} and provides(cls.kind, "language-model")
    assert list(inspect.signature(cls).parameters)[0] == "ctx"
    with pytest.raises(UserError, match="did you mean 'llamacpp'"):
        registry.resolve_system("smollm2-135m", {"backend": "llamacp"})
    with pytest.raises(UserError, match="one implementation"):
        registry.resolve_system("rag-bm25", {"backend": "x"})


def test_vllm_matches_hf(tmp_path) -> None:
    # ./scripts/test installs the extra: its absence is a set-up failure, not a skip
    assert vllm_python() is not None, NOT_INSTALLED
    from memeval.adapters.lm.hf import export_plain_checkpoint
    from memeval.adapters.lm.lmeval_hf import HFLanguageModel
    from memeval.adapters.lm.vllm_lm import VLLMLanguageModel

    ckpt = export_plain_checkpoint(tmp_path / "smollm2")
    hf = HFLanguageModel(path=str(ckpt), threads=2)
    ref = hf.score_tokens(TEXTS, max_tokens=64)
    hf.close()
    vl = VLLMLanguageModel(path=str(ckpt))
    try:
        got = vl.score_tokens(TEXTS, max_tokens=64)
        assert [(s.tokens, s.text_bytes) for s in got] == [(s.tokens, s.text_bytes) for s in ref]
        assert _pooled(got) == pytest.approx(_pooled(ref), rel=1e-4)
        assert vl.generate_until([("The capital of France is",
                                   {"until": ["."], "max_gen_toks": 8})]) == [" Paris"]
    finally:
        vl.close()


def test_llamacpp_lm_runs_in_lm_evals_own_evaluator(backends, tmp_path) -> None:
    """The llama.cpp class is an lm-eval `LM`: lm-eval's `simple_evaluate` drives it on a
    local multiple-choice task, and every loglikelihood it logs is the one we return."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    rows = [{"q": "The capital of France is", "choices": ["Paris", "Berlin", "Madrid"], "label": 0},
            {"q": "Two plus two equals", "choices": ["four", "seven", "ten"], "label": 0},
            {"q": "The sky on a clear day is", "choices": ["green", "blue", "loud"], "label": 1}]
    data = tmp_path / "mc.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "mc.yaml").write_text(
        "task: memeval_test_mc\ndataset_path: json\ndataset_kwargs:\n"
        f"  data_files: {{test: {data}}}\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: '{{q}}'\ndoc_to_choice: '{{choices}}'\ndoc_to_target: label\n"
        "metric_list:\n  - metric: acc\n    higher_is_better: true\n", encoding="utf-8")
    lm = backends["llamacpp"]
    res = lm_eval.simple_evaluate(model=lm, tasks=["memeval_test_mc"], log_samples=True,
                                  task_manager=TaskManager(include_path=str(tmp_path)))
    assert res["results"]["memeval_test_mc"]["acc,none"] == 1.0
    logged = [(tuple(args), resp[0]) for s in res["samples"]["memeval_test_mc"]
              for args, resp in zip(s["arguments"].values() if isinstance(s["arguments"], dict)
                                    else s["arguments"], s["resps"])]
    assert len(logged) == 9
    ours = lm.loglikelihood([args for args, _ in logged])
    for (_, (ll, greedy)), (mine, my_greedy) in zip(logged, ours):
        assert float(ll) == pytest.approx(mine, abs=1e-6) and bool(greedy) == my_greedy
