"""`memeval run --plan`: what a run would call, counted before anything runs.

Counts come from the task's `plan` (its protocol walked over the samples) and the system's
declared costs (memeval.contracts.plan). Where earlier complete runs of the same task and
system exist, their ledgers (manifest `cost`) calibrate each caller: the plan of that earlier
run is recomputed and the measured/planned ratio applied (judge retries, evolution steps and
other calls no declaration can know). Nothing here constructs a system or calls an LLM; the
ETA's timed calls are in memeval.plan_eta.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memeval import registry
from memeval.contracts import AddCost, Capabilities, CallCount, PlanContext, PlanCounts
from memeval.records import RunManifest, Session

MAX_EARLIER = 5  # newest matching runs used for calibration (each is re-planned: data loads)


@dataclass
class DeclaredCosts:
    """A system class's declared costs (memeval.contracts.plan.SystemCosts), never an instance:
    planning must not start a library, open a store or call an LLM."""

    name: str
    cls: Any
    options: dict[str, Any]
    capabilities: Capabilities = field(init=False)
    search_calls: float = field(init=False)
    declared: bool = field(init=False)  # the class says anything about its costs

    def __post_init__(self) -> None:
        caps = getattr(self.cls, "capabilities", None)
        self.capabilities = caps if isinstance(caps, Capabilities) else Capabilities()
        self.search_calls = float(getattr(self.cls, "llm_calls_per_search", 0.0))
        self.declared = any(hasattr(self.cls, a) for a in
                            ("plan_add", "llm_calls_per_add", "llm_calls_per_search"))

    def add_cost(self, session: Session, stored: float) -> AddCost:
        hook = getattr(self.cls, "plan_add", None)
        if hook is not None:
            return hook(session, self.options, stored)
        return AddCost(llm_calls=float(getattr(self.cls, "llm_calls_per_add", 0.0)))


@dataclass
class JobPlan:
    job: Any  # memeval.runner.JobSpec
    counts: PlanCounts
    planned: dict[str, CallCount]  # before calibration (what the declarations give)
    calibrated_by: list[str] = field(default_factory=list)  # earlier run folders used
    notes: list[str] = field(default_factory=list)
    # measured seconds per real call, per caller, in earlier runs on the same endpoint: the
    # ETA prefers them to the timed calls' model (they include the server's prefix reuse)
    seconds_per_call: dict[str, float] = field(default_factory=dict)


def system_caller(job: Any) -> str:
    return f"system:{job.system}"  # the ledger's name for the system's own calls


def count_job(job: Any, token_scale: float = 1.0) -> PlanCounts:
    """The task's plan of one job, with the system caller named as the ledger names it.
    `token_scale`: the endpoint's tokens per estimated token (packs estimate at ~4 characters
    per token); systems declare their calls' tokens as tokens and are not rescaled."""
    from memeval.runner import make_task

    task = make_task(job)
    cls, options = registry.resolve_system(job.system, job.system_options)
    costs = DeclaredCosts(job.system, cls, options)
    samples = list(task.samples())
    hook = getattr(task, "plan", None)
    if hook is None:
        counts = PlanCounts(samples=len(samples), clusters=len({s.cluster for s in samples}),
                            notes=[f"{job.task} declares no plan: calls are not predicted"])
    else:
        counts = hook(samples, PlanContext(system=costs, judge=job.judge, seed=job.seed))
    own = counts.calls.pop("system", None)
    for cc in counts.calls.values():
        cc.prompt_tokens *= token_scale
        cc.shared_prefix_tokens *= token_scale
    if own is not None:
        counts.calls[system_caller(job)] = own
    if not costs.declared and bool(getattr(task, "needs_llm", True)):
        counts.notes.append(f"{job.system} declares no LLM calls per add or search: counted "
                            "as none unless earlier runs measured some")
    return counts


def earlier_runs(job: Any, roots: list[Path], identity: str | None) -> list[RunManifest]:
    """Complete, error-free, never resumed runs of the same task, system and judge kind under
    `roots`, newest first; runs on the same LLM endpoint first (judge retries depend on it)."""
    found: dict[Path, RunManifest] = {}
    for root in roots:
        for path in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
            try:
                m = RunManifest.model_validate_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not a run folder of this memeval: not evidence
            c = m.config
            if (m.status == "complete" and m.cost and c.get("task") == job.task
                    and c.get("system") == job.system and c.get("judge") == job.judge
                    and not m.counts.get("errors") and not _resumed(path.parent)):
                found[path.parent.resolve()] = m
    ordered = sorted(found.values(), key=lambda m: m.finished or "", reverse=True)
    ordered.sort(key=lambda m: m.config.get("llm") != identity)  # stable: newest within each
    return ordered[:MAX_EARLIER]


def _resumed(folder: Path) -> bool:
    """A resumed run's ledger holds only its last invocation: not a measure of the whole."""
    audit = folder / "audit.jsonl"
    try:
        return '"run.resume"' in audit.read_text(encoding="utf-8")
    except OSError:
        return True  # no audit trail: nothing says the ledger covers the run


def replan(m: RunManifest, token_scale: float = 1.0) -> PlanCounts:
    from memeval.runner import JobSpec

    c = m.config
    return count_job(JobSpec(task=c["task"], system=c["system"],
                             task_options=dict(c.get("task_options") or {}),
                             system_options=dict(c.get("system_options") or {}),
                             seed=int(c.get("seed", 0)), limit=c.get("limit"),
                             judge=c.get("judge")), token_scale)


def calibrate(counts: PlanCounts, earlier: list[tuple[RunManifest, PlanCounts]]) -> list[str]:
    """Scale each caller by measured/planned over the earlier runs (sums, so a large run weighs
    more). A caller planned at 0 but measured (undeclared system calls) gets the measured calls
    per add. Tokens scale by the measured tokens per real (uncached) call."""
    notes = []
    callers = set(counts.calls) | {k for m, _ in earlier for k in m.cost}
    for caller in sorted(callers):
        measured = sum(float(m.cost.get(caller, {}).get("calls", 0)) for m, _ in earlier)
        planned = sum(p.calls[caller].calls for _, p in earlier if caller in p.calls)
        adds = sum(p.adds for m, p in earlier if caller in m.cost)
        cur = counts.caller(caller)
        now = {a: getattr(cur, a) / cur.calls if cur.calls > 0 else 0.0
               for a in ("prompt_tokens", "completion_tokens")}  # per call, before scaling
        if planned > 0:
            ratio = measured / planned
            if abs(ratio - 1) > 0.01:
                notes.append(f"{caller}: x{ratio:.2f} measured/declared in earlier runs")
            cur.calls *= ratio
        elif measured > 0 and caller.startswith("system:") and adds > 0:
            cur.calls = counts.adds * measured / adds
            notes.append(f"{caller}: {measured / adds:.2f} calls per add measured in earlier "
                         "runs (the system declares none)")
        real = sum(float(m.cost.get(caller, {}).get("calls", 0))
                   - float(m.cost.get(caller, {}).get("cache_hits", 0)) for m, _ in earlier)
        if real > 0 and cur.calls > 0:  # tokens of real calls only (cache hits cost none)
            share = cur.shared_prefix_tokens / cur.prompt_tokens if cur.prompt_tokens else 0.0
            for attr in ("prompt_tokens", "completion_tokens"):
                per = sum(float(m.cost.get(caller, {}).get(attr, 0)) for m, _ in earlier) / real
                was = sum(getattr(p.calls[caller], attr) for _, p in earlier if caller in p.calls)
                # the measured per-call mean rescales the pack's per-call estimate (which knows
                # this data's lengths); with no estimate it stands in for one
                per_planned = was / planned if planned > 0 and was > 0 else 0.0
                setattr(cur, attr, cur.calls * (per * now[attr] / per_planned
                                                if per_planned and now[attr] else per))
            cur.shared_prefix_tokens = share * cur.prompt_tokens
    return notes


def measured_seconds(earlier: list[RunManifest], identity: str | None) -> dict[str, float]:
    out = {}
    same = [m for m in earlier if identity is not None and m.config.get("llm") == identity]
    for caller in {k for m in same for k in m.cost}:
        real = sum(float(m.cost[caller].get("calls", 0)) - float(m.cost[caller].get(
            "cache_hits", 0)) for m in same if caller in m.cost)
        secs = sum(float(m.cost[caller].get("seconds", 0)) for m in same if caller in m.cost)
        if real >= 5:  # a handful of calls is a measurement; one is noise
            out[caller] = secs / real
    return out


def cached_means(cache: Path | None) -> dict[str, tuple[int, float, float]]:
    """Per caller in the response cache: (entries, mean prompt tokens, mean completion tokens).
    Read-only: planning writes nothing, and a missing cache is not created."""
    if cache is None or not cache.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT caller, COUNT(*), AVG(json_extract(body, '$.prompt_tokens')),"
                              " AVG(json_extract(body, '$.completion_tokens')) FROM responses "
                              "GROUP BY caller").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}  # an old or foreign file: no measurement, not an error
    return {str(c): (int(n), float(p or 0), float(t or 0)) for c, n, p, t in rows if c}


def apply_cache(counts: PlanCounts, means: dict[str, tuple[int, float, float]],
                min_entries: int = 20) -> list[str]:
    """Completion tokens per call (and a system's prompt tokens where it declares none) from
    what this cache holds for the same caller: measured, where the pack's figure is a guess."""
    notes = []
    for caller, cur in counts.calls.items():
        n, prompt, completion = means.get(caller, (0, 0.0, 0.0))
        if n < min_entries or cur.calls <= 0:
            continue
        cur.completion_tokens = completion * cur.calls
        if caller.startswith("system:") and cur.prompt_tokens <= 0:
            cur.prompt_tokens = prompt * cur.calls
        notes.append(f"{caller}: tokens per call from {n} cached responses")
    return notes


def plan_job(job: Any, roots: list[Path], identity: str | None, cache: Path | None,
             token_scale: float = 1.0) -> JobPlan:
    counts = count_job(job, token_scale)
    planned = {k: CallCount(v.calls, v.prompt_tokens, v.completion_tokens,
                            v.shared_prefix_tokens) for k, v in counts.calls.items()}
    plan = JobPlan(job=job, counts=counts, planned=planned, notes=list(counts.notes))
    earlier = []
    for m in earlier_runs(job, roots, identity):
        try:
            earlier.append((m, replan(m, token_scale)))
        except Exception as e:  # its data moved or its options no longer exist: skip it
            plan.notes.append(f"earlier run {m.run_id} not used: {type(e).__name__}: {e}")
    if earlier:
        plan.calibrated_by = [m.run_id for m, _ in earlier]
        plan.notes += calibrate(counts, earlier)
        plan.seconds_per_call = measured_seconds([m for m, _ in earlier], identity)
    else:
        plan.notes += apply_cache(counts, cached_means(cache))
    return plan


def to_json(plans: list[JobPlan], eta: dict[str, Any] | None) -> str:
    def calls(d: dict[str, CallCount]) -> dict[str, dict[str, float]]:
        return {k: {"calls": round(v.calls, 1), "prompt_tokens": round(v.prompt_tokens),
                    "completion_tokens": round(v.completion_tokens),
                    "shared_prefix_tokens": round(v.shared_prefix_tokens)} for k, v in d.items()}

    return json.dumps({"jobs": [{
        "task": p.job.task, "system": p.job.system, "seed": p.job.seed, "limit": p.job.limit,
        "judge": p.job.judge, "samples": p.counts.samples, "clusters": p.counts.clusters,
        "adds": p.counts.adds, "searches": p.counts.searches, "calls": calls(p.counts.calls),
        "declared_calls": calls(p.planned), "calibrated_by": p.calibrated_by,
        "notes": p.notes} for p in plans], "eta": eta}, indent=2)
