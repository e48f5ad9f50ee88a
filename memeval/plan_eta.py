"""The plan's ETA and its output: a few timed calls on the chosen endpoint (the embedded server
or `--llm`), outside the response cache and any ledger, fitted to per-call overhead, prompt
throughput and generation speed; then the plan printed, with a warning for runs of hours."""

from __future__ import annotations

import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from memeval import registry
from memeval.contracts import approx_tokens
from memeval.errors import EndpointDown, UserError
from memeval.plan import JobPlan, plan_job, to_json

# English filler for the long timed prompt: ordinary prose tokenizes like the packs' dialogue.
FILLER = ("The user said that she moved to a new city last spring, started a job at a small "
          "design studio, and now walks her dog along the river every morning before work. ")
LONG_PROMPT_TOKENS = 1000  # long enough that prompt throughput dominates its time
GEN_TOKENS = 64
HOURS_WARNING = 1.0


@dataclass
class Speed:
    """Seconds per call = overhead + new prompt tokens / prompt rate + completion * per_token;
    new = not the prefix the call shares with the one before (the pack's layout says which)."""

    overhead_s: float
    prompt_tok_per_s: float
    gen_s_per_token: float
    token_scale: float  # the endpoint's prompt tokens / memeval's estimate (~4 chars a token)
    parallel: int

    def seconds(self, calls: float, prompt: float, completion: float,
                shared_prefix: float = 0.0) -> float:
        return (calls * self.overhead_s + (prompt - shared_prefix) / self.prompt_tok_per_s
                + completion * self.gen_s_per_token)


def _timed(llm: Any, content: str, max_tokens: int) -> tuple[float, int, int]:
    msgs = [{"role": "user", "content": content}]
    t0 = time.perf_counter()
    res = llm.chat_sync(msgs, caller="plan", max_tokens=max_tokens, temperature=0.0,
                        use_cache=False)
    return time.perf_counter() - t0, res.prompt_tokens, res.completion_tokens


def measure(llm: Any, parallel: int) -> Speed:
    """Five uncached calls; a fresh nonce first in every prompt, so no server-side prefix cache
    (llama.cpp's slot or RAM cache, vLLM's prefix cache) makes the timing optimistic. The
    per-call overhead is the faster of two one-token calls: on a shared machine one call can
    stall, and a stalled overhead would swallow the generation time it is subtracted from."""
    def nonce() -> str:
        return f"[{secrets.token_hex(6)}] "

    _timed(llm, nonce() + "Say hello.", 1)  # warm-up: connection, first-request setup
    overhead = max(min(_timed(llm, nonce() + "Say hello.", 1)[0] for _ in range(2)), 1e-3)
    long = nonce() + FILLER * int(LONG_PROMPT_TOKENS * 4 / len(FILLER) + 1)
    t_long, p_long, _ = _timed(llm, long + "\nSummarize in one word.", 1)
    t_gen, _, c_gen = _timed(llm, nonce() + "Write a long story about a lighthouse keeper.",
                             GEN_TOKENS)
    estimate = approx_tokens([{"role": "user", "content": long + "\nSummarize in one word."}])
    prompt_rate = max(p_long, 1) / max(t_long - overhead, 1e-3)
    # if the generation call came out faster than the overhead (noise), charge its whole time
    per_token = (t_gen - overhead if t_gen > 2 * overhead else t_gen) / max(c_gen - 1, 1)
    return Speed(overhead, prompt_rate, per_token,
                 token_scale=(p_long / estimate) if p_long and estimate else 1.0,
                 parallel=max(1, parallel))


def caller_seconds(plan: JobPlan, caller: str, speed: Speed) -> float:
    c = plan.counts.calls[caller]
    if caller in plan.seconds_per_call:  # measured on this endpoint in earlier runs
        return c.calls * plan.seconds_per_call[caller]
    return speed.seconds(c.calls, c.prompt_tokens, c.completion_tokens, c.shared_prefix_tokens)


def job_seconds(plan: JobPlan, speed: Speed) -> float:
    serial = sum(caller_seconds(plan, k, speed) for k in plan.counts.calls)
    return serial / max(1, min(speed.parallel, plan.counts.clusters or 1))


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def render(io: Any, plans: list[JobPlan], speed: Speed | None, why_not: str | None) -> float:
    total_s = 0.0
    for p in plans:
        c, job = p.counts, p.job
        io.out.print(f"[bold]plan: {job.task}[/] x [bold]{job.system}[/] seed {job.seed}: "
                     f"{c.samples} samples, {c.clusters} clusters, {c.adds} adds, "
                     f"{c.searches} searches", highlight=False)
        t = Table("caller", "calls", "declared", "prompt tokens", "completion tokens", "time")
        for caller, cc in sorted(c.calls.items()):
            declared = p.planned.get(caller)
            secs = caller_seconds(p, caller, speed) if speed else None
            t.add_row(caller, f"{cc.calls:,.0f}", f"{declared.calls:,.0f}" if declared else "-",
                      f"{cc.prompt_tokens:,.0f}",
                      f"{cc.completion_tokens:,.0f}", _duration(secs) if secs is not None
                      else "-")
        t.add_row("total", f"{sum(cc.calls for cc in c.calls.values()):,.0f}",
                  f"{sum(cc.calls for cc in p.planned.values()):,.0f}",
                  f"{sum(cc.prompt_tokens for cc in c.calls.values()):,.0f}",
                  f"{sum(cc.completion_tokens for cc in c.calls.values()):,.0f}",
                  _duration(sum(caller_seconds(p, k, speed) for k in c.calls))  # serial
                  if speed else "-")
        io.out.print(t)
        if p.calibrated_by:
            io.out.print(f"calibrated by earlier runs: {', '.join(p.calibrated_by)}",
                         highlight=False)
        for note in p.notes:
            io.out.print(f"note: {note}", highlight=False)
        if speed:
            total_s += job_seconds(p, speed)
    if speed is None:
        io.out.print(f"ETA: not measured ({why_not})", highlight=False)
        return 0.0
    io.out.print(f"ETA: ~{_duration(total_s)} of LLM time at {speed.prompt_tok_per_s:,.0f} "
                 f"prompt tok/s, {1 / max(speed.gen_s_per_token, 1e-6):,.0f} generated tok/s, "
                 f"{speed.overhead_s * 1000:.0f} ms per call, {speed.parallel} in parallel "
                 "(memory-library compute not included)", highlight=False)
    return total_s


def warn_hours(io: Any, plans: list[JobPlan], total_s: float, embedded: bool) -> None:
    if total_s < HOURS_WARNING * 3600:
        return
    flags = ["--limit N"]
    for task in dict.fromkeys(p.job.task for p in plans):
        flags += [f"{o.flag} N" for o in registry.resolve("task", task).options
                  if o.flag and o.type == "int"]
    where = "on the embedded SmolLM2 server" if embedded else "on this endpoint"
    io.err.print(f"[yellow]warning: this run would take ~{_duration(total_s)} {where}; "
                 f"try {' or '.join(dict.fromkeys(flags))} first, or a faster endpoint "
                 "(--llm http://HOST:PORT/v1::MODEL, a batching vLLM server: --llm vllm:PATH)")


def cmd_plan(jobs: list[Any], outs: list[Path], opts: Any, concurrency: int | None,
             json_path: str | None, io: Any) -> int:
    """`memeval run --plan`: no run folder, no cache entry, no system constructed."""
    from dataclasses import replace

    from memeval.llm_cache import default_cache_path
    from memeval.llm_open import open_llm

    roots = list(dict.fromkeys(o.parent.resolve() for o in outs))
    needs_llm = any(bool(getattr(registry.resolve("task", j.task), "needs_llm", True))
                    for j in jobs)
    cache = None if opts.no_cache else Path(opts.cache or default_cache_path())
    speed, why_not, identity = None, "no task of this run calls an LLM", None
    with ExitStack() as stack:
        if needs_llm or opts.spec:
            try:  # the timed calls bypass the cache: planning stores nothing
                llm = open_llm(replace(opts, no_cache=True), stack, log_dir=None,
                               notify=io.err.print)
                identity = llm.identity
                io.err.print("timing a few calls on the endpoint for the ETA...")
                # llama.cpp's server answers one request at a time, whatever the client sends
                parallel = 1 if llm.endpoint.backend == "llamacpp" else \
                    (concurrency or llm.max_connections)
                speed = measure(llm, parallel)
            except (EndpointDown, UserError) as e:
                why_not = str(e)
        scale = speed.token_scale if speed else 1.0
        plans = [plan_job(j, roots, identity, cache, scale) for j in jobs]
    for p, out in zip(plans, outs):
        done = out / "predictions.jsonl"
        if done.exists():  # counts stay those of the whole run: resumed adds are cache hits
            n = sum(1 for line in done.read_text(encoding="utf-8").splitlines() if line.strip())
            p.notes.append(f"{out} already holds {n} predictions: the same configuration "
                           "resumes there (only the rest costs new calls), another is refused")
    total = render(io, plans, speed, why_not)
    warn_hours(io, plans, total, embedded=opts.spec is None)
    if json_path:
        eta = None if speed is None else {"seconds": round(total, 1), **speed.__dict__}
        text = to_json(plans, eta)
        if json_path == "-":
            io.out.print(text, highlight=False, markup=False)
        else:
            Path(json_path).write_text(text + "\n", encoding="utf-8")
    return 0
