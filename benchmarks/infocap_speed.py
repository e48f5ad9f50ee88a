"""NLL scoring speed per backend: SmolLM2-135M scoring the same texts (the infocap pack's
shipped set, 1,024 tokens each) through memeval's torch LM, lm-eval's HFLM, llama.cpp
in-process and, where its environment exists, vLLM. Prints predicted tokens per second and
each backend's ratio to the torch one, all measured in this run, and the pooled NLL bits per
token each backend reports (they should agree: see tests/test_lm_backends.py).

    python benchmarks/infocap_speed.py [--texts 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> int:
    from memeval.adapters.lm.hf import SmolLM2, export_plain_checkpoint
    from memeval.adapters.lm.llamacpp import SmolLM2LlamaCpp
    from memeval.adapters.lm.lmeval_hf import SmolLM2HF
    from memeval.adapters.lm.vllm_lm import VLLMLanguageModel, vllm_python
    from memeval.tasks.infocap.textsets import shipped

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    texts = [t.text for t in shipped().texts][:args.texts]

    def torch_lm():
        lm = SmolLM2(threads=args.threads)
        lm.prepare()
        return lm

    makers = {"torch": torch_lm, "hf (lm-eval HFLM)": lambda: SmolLM2HF(threads=args.threads),
              "llamacpp": lambda: SmolLM2LlamaCpp(threads=args.threads)}
    tmp = tempfile.TemporaryDirectory()
    if vllm_python() is not None:
        makers["vllm"] = lambda: VLLMLanguageModel(
            path=str(export_plain_checkpoint(Path(tmp.name))))
    rows = []
    for name, make in makers.items():
        lm = make()
        lm.score_tokens(texts[:1], 64)  # warm-up: first-call allocation and compilation
        t0 = time.perf_counter()
        scores = lm.score_tokens(texts, 1024)
        dt = time.perf_counter() - t0
        lm.close()
        tokens = sum(s.tokens for s in scores)
        rows.append((name, tokens / dt, sum(s.nll_bits for s in scores) / tokens, dt))
        print(f"{name:20s} {tokens / dt:8.1f} tok/s  ({tokens} tokens in {dt:.1f} s)", flush=True)
    if "vllm" not in makers:
        print("vllm: not measured (optional extra; bash scripts/setup.sh --extra vllm)")
    base = rows[0][1]
    print("\nbackend              tok/s   x torch   NLL bits/token")
    for name, tps, nll, _ in rows:
        print(f"{name:20s} {tps:7.1f}   {tps / base:6.2f}x   {nll:.4f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
