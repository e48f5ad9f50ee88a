"""vLLM worker, run by the vLLM environment's own Python as `python -P` (never imported by
memeval; -P keeps this folder, whose tokenizers.py would shadow the package, off sys.path).

Protocol (memeval.jsonworker / memeval/worker_child.py), one JSON object per line: requests on
stdin, replies on the original stdout (vLLM's own output is moved to stderr).
  start                           -> {"ok": true, "ready": true, "vllm": VERSION, ...}
  {"op": "score", "seqs": [[id]]} -> {"ok": true, "lp": [[float]], "greedy": [[bool]]}
     log p of tokens 1.. of each sequence (vLLM's prompt_logprobs: float32 log-softmax of the
     raw logits) and whether each was the argmax (rank 1)
  {"op": "generate", "ids": [id], "max_new": n, "until": [str]} -> {"ok": true, "text": s}
"""

import importlib.util
import json
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "memeval_worker_child", Path(__file__).resolve().parents[2] / "memeval" / "worker_child.py")
wc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wc)


def main() -> int:
    proto = wc.claim_stdout()  # everything else vLLM prints goes to stderr
    args = json.loads(sys.argv[1])
    import vllm
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=args["path"], dtype=args.get("dtype", "float32"),
              max_model_len=int(args.get("max_model_len", 2048)), enforce_eager=True,
              gpu_memory_utilization=float(args.get("memory_fraction", 0.15)),
              seed=int(args.get("seed", 0)), enable_prefix_caching=True)

    def handle(req: dict) -> dict:
        if req["op"] == "score":
            outs = llm.generate([TokensPrompt(prompt_token_ids=s) for s in req["seqs"]],
                                SamplingParams(max_tokens=1, prompt_logprobs=0,
                                               temperature=0.0), use_tqdm=False)
            lps, greedy = [], []
            for seq, out in zip(req["seqs"], outs):
                steps = out.prompt_logprobs[1:]  # the first token has no context
                lps.append([d[t].logprob for d, t in zip(steps, seq[1:])])
                greedy.append([d[t].rank == 1 for d, t in zip(steps, seq[1:])])
            return {"lp": lps, "greedy": greedy}
        if req["op"] == "generate":
            out = llm.generate([TokensPrompt(prompt_token_ids=req["ids"])],
                               SamplingParams(max_tokens=int(req["max_new"]), temperature=0.0,
                                              stop=req.get("until") or None), use_tqdm=False)
            return {"text": out[0].outputs[0].text}
        raise ValueError(f"unknown op {req['op']!r}")

    return wc.serve(handle, {"ready": True, "vllm": vllm.__version__,
                             "max_model_len": int(args.get("max_model_len", 2048))}, proto)


if __name__ == "__main__":
    raise SystemExit(main())
