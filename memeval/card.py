"""The minimal evaluation card of governance.md, filled from what a run declares: metric
families from the task's MetricSpecs, timeliness/refusal rows from its CardRows, data defects
from the task, cost from the manifest, judge agreement from repeated verdicts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from memeval import stats
from memeval.contracts import Block, Results
from memeval.records import RunManifest, Verdict
from memeval.report_render import KV, Section
from memeval.runs import LoadedRun
from memeval.show import fmt, fmt_ci


def estimate_text(block: Block, which: str = "all", unit: str = "") -> str:
    e = block.all if which == "all" else block.valid
    return f"{fmt(e.mean, unit)} {fmt_ci(e.ci, unit)} (n={e.n}, {e.n_clusters} clusters)"


def wall_time(m: RunManifest) -> str:
    try:
        s = (datetime.fromisoformat(m.finished) - datetime.fromisoformat(m.created)).total_seconds()
        return f"{s:.1f} s"
    except (TypeError, ValueError):
        return "unknown (run unfinished)"


def cost_line(m: RunManifest) -> str:
    cost = m.cost or {}
    calls = sum(c.get("calls", 0) for c in cost.values())
    hits = sum(c.get("cache_hits", 0) for c in cost.values())
    tok = sum(c.get("prompt_tokens", 0) + c.get("completion_tokens", 0) for c in cost.values())
    secs = sum(c.get("seconds", 0.0) for c in cost.values())
    return (f"{calls} LLM calls ({hits} cache hits), {tok} tokens, {secs:.1f} s in LLM calls; "
            f"wall time {wall_time(m)}")


def judge_agreement(verdicts: list[Verdict]) -> str:
    """Krippendorff's alpha across repeated judge runs of the same items, when there are any."""
    runs: dict[tuple[str, str, str], dict[int, str | None]] = defaultdict(dict)
    for v in verdicts:
        runs[(v.prediction_id, v.item, v.kind)][v.repeat] = v.label if v.valid else None
    ratings = [r for r in runs.values() if len(r) >= 2]
    if not ratings:
        return "not measured (one judge run per item; e.g. --task locomo:judge_runs=3)"
    k = max(max(r) for r in ratings) + 1
    table = [[r.get(i) for r in ratings] for i in range(k)]
    res = stats.agreement_ci(table, measure="alpha", scale="nominal", n_boot=2000, seed=0)
    return (f"Krippendorff's alpha {res['estimate']:.3f} (95% CI {res['ci']}) over "
            f"{res['n_items']} items, {k} judge runs" if res["estimate"] is not None
            else "judge runs agree on every item (alpha undefined: no variation)")


def _family(results: Results, family: str) -> str:
    return "; ".join(
        f"{name} ({e.spec.direction}) {estimate_text(e.overall, unit=e.spec.unit)}"
        for name, e in results.metrics.items()
        if e.spec.family == family and e.overall is not None)


def _card_row(results: Results, field: str) -> str | None:
    for row in results.card:
        if row.field != field or row.metric not in results.metrics:
            continue
        entry = results.metrics[row.metric]
        block = entry.block(row.stratum)
        if block is not None:
            return f"{estimate_text(block, unit=entry.spec.unit)}; {row.note}"
    return None


def card_section(run: LoadedRun, verdicts: list[Verdict], reproduce: str) -> Section:
    m, r = run.manifest, run.results
    info = m.task.get("data") or {}
    judges = ", ".join(r.judges) or ("configured: " + str(m.config.get("judge"))
                                     if m.config.get("judge") else "none (no judge metrics)")
    sys_info = m.system.get("info") or {}
    items: list[tuple[str, Any]] = [
        ("system and version", f"{m.system.get('name')} v{m.system.get('version')} options "
                               f"{m.system.get('options') or {}} {sys_info.get('library', '')}"),
        ("task pack and version", f"{r.task} v{r.task_version} options "
                                  f"{m.task.get('options') or {}}"),
        ("data", f"{info.get('path')} sha256 {info.get('sha256')}; license "
                 f"{info.get('license', 'unknown')}; source {info.get('source', 'unknown')}"),
        ("setting", f"{m.setting} (of parametric-only / offline retrieval / online retrieval)"),
        ("answer model", f"{m.llm.get('model')} ({m.llm.get('identity')})" if m.llm
         else "none (the task calls no LLM)"),
        ("judge model", judges),
        ("correctness (all, 95% CI)", _family(r, "correctness") or "none"),
        ("faithfulness / hallucination", _family(r, "faithfulness")
         or f"not measured by {r.task}"),
        ("timeliness", _card_row(r, "timeliness") or "not measured in this run"),
        ("refusal / boundary", _card_row(r, "refusal") or "not measured in this run"),
        ("positional robustness", _card_row(r, "positional robustness") or "not measured"),
        ("cost", cost_line(m)),
        ("judge agreement", judge_agreement(verdicts)),
        ("known data defects", r.known_defects or "none recorded for this pack"),
        ("seeds", f"run seed {m.seed}; bootstrap seed 0 (metrics.json); response cache keyed by "
                  "sample and seed"),
        ("how to reproduce", reproduce),
    ]
    capacity = _family(r, "capacity")
    if capacity:
        items.insert(8, ("capacity", capacity))
    return Section("Evaluation card", [KV(items)], id="card")
