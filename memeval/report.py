"""`memeval report RUN [--compare RUN2] [--out DIR]`: the reproducibility report and the minimal
evaluation card of governance.md, as report.html (one self-contained file) and report.md."""

from __future__ import annotations

import argparse
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from memeval.audit import env_secrets, verify_run
from memeval.compare import LoadedRun, compare_runs, load_run, lower_is_better, paired
from memeval.errors import UserError
from memeval.report_render import KV, Image, Section, Table, errorbar_panels, to_html, to_markdown
from memeval import stats

MAX_PLOTTED_METRICS = 6
MAX_FAILURES_LISTED = 50
# What a pack's strata mean for the card (LoCoMo uses the official category numbering).
REFUSAL = {"locomo": ("category", "5", "f1_official",
                      "LoCoMo category 5 (adversarial): share of answers that refuse "
                      "('not mentioned'), official scorer")}
TIMELINESS = {"locomo": ("category", "2", "f1_official",
                         "proxy only: LoCoMo category 2 (temporal reasoning); freshness and "
                         "outdated-answer rates are not measured by this pack")}
KNOWN_DEFECTS = {
    "locomo": "an independent audit reports ~99 of the 1,540 category 1-4 gold answers are wrong; "
              "444 of 446 category-5 items have no gold answer; six malformed evidence strings and "
              "one missing evidence id (D30:05); conv-26 has session dates without turns",
    "halumem": "some gold update points are never said in the dialogue; currency mix-ups "
               "(upstream issue #5)",
}
FAITHFULNESS_WORDS = ("hallucination", "fmr", "omission", "memory_accuracy", "unsupported")


def _pct(x: float | None, unit: str = "") -> str:
    """Fractions x100; metrics with a unit (nats, bits) as they are."""
    if x is None:
        return "-"
    return f"{x:.4g}" if unit else f"{100 * x:.2f}"


def headline_ci(s: dict[str, Any]) -> tuple[float, float] | None:
    """The CI the spec headlines: bootstrap below 30 clusters, else t (Summary.method says)."""
    method = str(s.get("method", ""))
    ci = s.get("ci_boot") if method.endswith("/bootstrap") else s.get("ci_t")
    return tuple(ci) if ci else None  # type: ignore[return-value]


def _ci(ci: Any, unit: str = "") -> str:
    return f"[{_pct(ci[0], unit)}, {_pct(ci[1], unit)}]" if ci else "-"


def _est(block: dict[str, Any], which: str = "all", unit: str = "") -> str:
    s = block.get(which) or {}
    return (f"{_pct(s.get('mean'), unit)} {_ci(headline_ci(s), unit)} "
            f"(n={s.get('n')}, {s.get('n_clusters')} clusters)")


def _blocks(entry: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(stratum key, stratum label, block) for overall and every by_* stratum."""
    out = [("overall", "overall", entry["overall"])] if "overall" in entry else []
    for key, val in entry.items():
        if key.startswith("by_") and isinstance(val, dict):
            for k, b in val.items():
                name = b.get("name")
                out.append((key[3:], f"{k} {name}" if name and name != k else str(k), b))
    return out


def _wall(m: Any) -> str:
    try:
        s = (datetime.fromisoformat(m.finished) - datetime.fromisoformat(m.created)).total_seconds()
        return f"{s:.1f} s"
    except (TypeError, ValueError):
        return "unknown (run unfinished)"


def _cost_line(cost: dict[str, Any], m: Any) -> str:
    calls = sum(c.get("calls", 0) for c in cost.values())
    hits = sum(c.get("cache_hits", 0) for c in cost.values())
    tok = sum(c.get("prompt_tokens", 0) + c.get("completion_tokens", 0) for c in cost.values())
    secs = sum(c.get("seconds", 0.0) for c in cost.values())
    return (f"{calls} LLM calls ({hits} cache hits), {tok} tokens, {secs:.1f} s in LLM calls; "
            f"wall time {_wall(m)}")


def _judge_agreement(run: LoadedRun) -> str:
    """Krippendorff's alpha across repeated judge runs on the same items, when there are any."""
    ratings = [s.detail.get("labels") for s in run.scores.get("llm_judge", {}).values()]
    ratings = [r for r in ratings if isinstance(r, list) and len(r) >= 2]
    if not ratings:
        return "not measured (one judge run per item; e.g. --task locomo:judge_runs=3)"
    k = max(len(r) for r in ratings)
    table = [[(r[i] if i < len(r) else None) for r in ratings] for i in range(k)]
    res = stats.agreement_ci(table, measure="alpha", scale="nominal", n_boot=2000, seed=0)
    return (f"Krippendorff's alpha {res['estimate']:.3f} (95% CI {res['ci']}) over "
            f"{res['n_items']} items, {k} judge runs" if res["estimate"] is not None
            else "judge runs agree on every item (alpha undefined: no variation)")


def _data_defects(task: str) -> str:
    root = Path(__file__).resolve().parents[1] / "data_cards"
    card = root / f"{task}.md"
    if card.exists():
        lines = card.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("#") and "defect" in line.lower():
                body = []
                for nxt in lines[i + 1:]:
                    if nxt.startswith("#"):
                        break
                    body.append(nxt.strip())
                text = " ".join(b for b in body if b)
                if text:
                    return f"{text} (data_cards/{card.name})"
    return KNOWN_DEFECTS.get(task, "none recorded for this pack")


def _stratum_line(metrics: dict[str, Any], spec: tuple[str, str, str, str] | None) -> str | None:
    if spec is None:
        return None
    key, val, metric, what = spec
    block = metrics.get(metric, {}).get(f"by_{key}", {}).get(val)
    return f"{_est(block)}; {what}" if block else None


def card_section(run: LoadedRun, data: dict[str, Any], reproduce: str) -> Section:
    m, metrics = run.manifest, data.get("metrics", {})
    task = str(m.task.get("name"))
    info = m.task.get("data") or {}
    faith = [k for k in metrics if any(w in k for w in FAITHFULNESS_WORDS)]
    correct = [k for k in metrics if k not in faith and "overall" in metrics[k]]
    judges = ", ".join(run.judges) or ("configured: " + str(m.config.get("judge"))
                                       if m.config.get("judge") else "none (no judge metrics)")
    sys_info = m.system.get("info") or {}
    items = [
        ("system and version", f"{m.system.get('name')} v{m.system.get('version')} options "
                               f"{m.system.get('options') or {}} {sys_info.get('library', '')}"),
        ("task pack and version", f"{task} v{m.task.get('version')} options "
                                  f"{m.task.get('options') or {}}"),
        ("data", f"{info.get('path')} sha256 {info.get('sha256')}; license "
                 f"{info.get('license', 'unknown')}; source {info.get('source', 'unknown')}"),
        ("setting", f"{m.setting} (of parametric-only / offline retrieval / online retrieval)"),
        ("answer model", f"{m.llm.get('model')} ({m.llm.get('identity')})"),
        ("judge model", judges),
        ("correctness (all, 95% CI)", "; ".join(
            f"{k}{' (lower is better)' if lower_is_better(k) else ''} "
            f"{_est(metrics[k]['overall'])}" for k in correct) or "none"),
        ("faithfulness / hallucination", "; ".join(
            f"{k} {_est(metrics[k]['overall'])}" for k in faith if "overall" in metrics[k])
            or f"not measured by {task}"),
        ("timeliness", _stratum_line(metrics, TIMELINESS.get(task))
         or "not measured in this run"),
        ("refusal / boundary", _stratum_line(metrics, REFUSAL.get(task))
         or "not measured in this run"),
        ("positional robustness", "not measured"),
        ("cost", _cost_line(data.get("cost", {}), m)),
        ("judge agreement", _judge_agreement(run)),
        ("known data defects", _data_defects(task)),
        ("seeds", f"run seed {m.seed}; bootstrap seed 0 (metrics.json); response cache keyed by "
                  "sample and seed"),
        ("how to reproduce", reproduce),
    ]
    return Section("Evaluation card", [KV(items)], id="card")


def metrics_sections(data: dict[str, Any]) -> list[Section]:
    metrics = data.get("metrics", {})
    rows = []
    for name, entry in metrics.items():
        u = entry.get("unit", "")
        for _, label, b in _blocks(entry):
            for which in ("all", "valid"):
                s = b.get(which) or {}
                rows.append([f"{name} ({u})" if u else name, label, which, s.get("n"),
                             s.get("n_clusters"), _pct(s.get("mean"), u),
                             _ci(headline_ci(s), u), _ci(s.get("ci_t"), u),
                             _ci(s.get("ci_boot"), u), b.get("n_invalid", 0)])
    headers = ["metric", "stratum", "estimator", "n", "clusters", "mean (fractions x100)",
               "95% CI (headline)", "95% CI (t)", "95% CI (cluster bootstrap)", "invalid"]
    secs = [Section("Metrics", [
        "Estimators: 'all' counts invalid or failed samples as 0; 'valid' excludes them. The "
        "headline CI is the cluster bootstrap below 30 clusters, else Student-t on C-1 df. "
        f"Category numbering: {data.get('category_convention', 'as the pack stores it')}.",
        Table(headers, rows, id="metrics")], id="metrics-section")]
    strata: dict[str, list[list[Any]]] = {}
    for name, entry in metrics.items():
        u = entry.get("unit", "")
        for key, label, b in _blocks(entry):
            if key != "overall":
                strata.setdefault(key, []).append(
                    [f"{name} ({u})" if u else name, label, (b.get("all") or {}).get("n"),
                     _est(b, "all", u), _est(b, "valid", u), b.get("n_invalid", 0)])
    for key, srows in strata.items():
        secs.append(Section(f"Per {key}", [Table([
            "metric", key, "n", "all [95% CI]", "valid [95% CI]", "invalid"], srows,
            id=f"by-{key}")]))
    return secs


def metric_plot(data: dict[str, Any]) -> Image | None:
    panels = []
    for name, entry in list(data.get("metrics", {}).items())[:MAX_PLOTTED_METRICS]:
        blocks = _blocks(entry)
        panels.append((name, [lab for _, lab, _ in blocks],
                       [(b.get("all") or {}).get("mean") for _, _, b in blocks],
                       [headline_ci(b.get("all") or {}) for _, _, b in blocks]))
    if not panels:
        return None
    return Image(errorbar_panels(panels, "mean ('all'), 95% CI"),
                 "metric means with 95% CIs, overall and per stratum")


def compare_section(run: LoadedRun, other_path: Path) -> Section:
    rep = compare_runs([run.folder.path, other_path])
    other = load_run(other_path)
    rows = [[p.metric, f"{p.a} vs {p.b}", f"{p.n} ({p.n_clusters})", _pct(p.mean_a),
             _pct(p.mean_b), _pct(p.diff), _ci(p.ci), p.test, f"{p.p_raw:.3g}"
             if p.p_raw is not None else "-", f"{p.p_corrected:.3g}"
             if p.p_corrected is not None else "-",
             "-" if p.cohens_d is None else f"{p.cohens_d:.2f}",
             "-" if p.cliffs_delta is None else f"{p.cliffs_delta:.2f}", _pct(p.mde)]
            for p in rep.pairs]
    panels = [("overall", [p.metric for p in rep.pairs], [p.diff for p in rep.pairs],
               [p.ci for p in rep.pairs])]
    for metric in rep.metrics[:MAX_PLOTTED_METRICS - 1]:
        cats = sorted({s.strata.get("category") for s in run.scores[metric].values()} - {None})
        if len(cats) < 2:
            continue
        vals, cis = [], []
        for c in cats:
            d = paired(run, other, metric, {"category": c})
            res = stats.paired_bootstrap_diff(d["a"], d["b"], d["clusters"], n_boot=2000, seed=0)
            vals.append(res["diff"])
            cis.append(res["ci"])
        panels.append((f"{metric} by category", cats, vals, cis))
    return Section(f"Comparison with {other.label} ({other_path})", [
        f"Paired differences (this run minus {other.label}) on common items; "
        + "; ".join(rep.notes),
        Table(["metric", "runs", "n (clusters)", "this x100", "other x100", "diff x100",
               "95% CI (paired cluster bootstrap)", "test", "p", f"p {rep.correction}", "d",
               "Cliff", "MDE x100"], rows, id="compare"),
        Image(errorbar_panels(panels, "paired difference, 95% CI", zero_line=True),
              "paired differences with 95% CIs")], id="comparison")


def build(run_path: Path, compare: Path | None = None) -> tuple[str, list[Section]]:
    run = load_run(run_path)
    m, folder = run.manifest, run.folder
    data = folder.metrics()
    reproduce = f"memeval reproduce {shlex.quote(str(folder.path))}"
    original = " ".join(shlex.quote(c) for c in m.command)
    audit = verify_run(folder.path) if folder.audit_path.exists() else None
    secs = [Section("Run", [KV([
        ("run id", m.run_id), ("status", m.status), ("created", m.created),
        ("finished", m.finished or "-"), ("wall time", _wall(m)),
        ("task", f"{m.task.get('name')} v{m.task.get('version')}"),
        ("system", f"{run.label} v{m.system.get('version')}"), ("seed", m.seed),
        ("setting", m.setting), ("suite", m.suite or "-"),
        ("LLM", f"{m.llm.get('model')} via {m.llm.get('backend')} ({m.llm.get('identity')})"),
        ("config sha256", m.config_sha256), ("counts", m.counts),
        ("audit log", "missing" if audit is None else
         f"{'OK' if audit.ok else 'BROKEN'}: {audit.reason}; last sha256 {audit.last_sha256}")]),
        ], id="run")]
    secs.append(Section("How to reproduce", [
        "One command reruns this configuration into a new folder and reports metrics that "
        "differ beyond their CIs:", f"$ {reproduce}", "The original command was:",
        f"$ {original}"], id="reproduce"))
    secs.append(card_section(run, data, reproduce))
    secs += metrics_sections(data)
    plot = metric_plot(data)
    if plot is not None:
        secs.append(Section("Plots", [plot], id="plots"))
    if compare is not None:
        secs.append(compare_section(run, compare))
    preds = folder.predictions()
    errors = [p for p in preds.values() if p.error is not None]
    secs.append(Section("Failures", [
        f"{len(errors)} of {len(preds)} predictions failed (they score 0 in 'all', are "
        "excluded in 'valid')." + (f" First {MAX_FAILURES_LISTED} listed." if len(errors) >
                                   MAX_FAILURES_LISTED else ""),
        *([Table(["sample", "error"], [[p.sample_id, p.error] for p in
                                       errors[:MAX_FAILURES_LISTED]], id="failures")]
          if errors else [])], id="failures-section"))
    cost = data.get("cost", {})
    secs.append(Section("Cost", [_cost_line(cost, m), Table(
        ["caller", "calls", "cache hits", "failures", "prompt tokens", "completion tokens",
         "seconds", "latency p50 s", "latency p95 s"],
        [[k, c.get("calls"), c.get("cache_hits"), c.get("failures"), c.get("prompt_tokens"),
          c.get("completion_tokens"), c.get("seconds"), c.get("latency_p50"),
          c.get("latency_p95")] for k, c in cost.items()], id="cost")], id="cost-section"))
    git = m.git or {}
    secs.append(Section("Environment", [KV([
        ("memeval", m.memeval_version), ("python", m.machine.get("python")),
        ("platform", m.machine.get("platform")), ("machine", m.machine.get("machine")),
        ("cpus", m.machine.get("cpus")), ("git commit", git.get("commit")),
        ("git dirty", git.get("dirty"))]),
        Table(["package", "version"], [[k, v] for k, v in sorted(m.packages.items())],
              id="packages")], id="environment"))
    info = m.task.get("data") or {}
    secs.append(Section("Data", [KV([
        ("path", info.get("path")), ("sha256", info.get("sha256")),
        ("license", info.get("license", "unknown")), ("source", info.get("source", "unknown")),
        ("known defects", _data_defects(str(m.task.get("name"))))])], id="data"))
    return f"memeval report: {m.run_id} ({m.task.get('name')} x {run.label})", secs


def write_report(run_path: Path, compare: Path | None = None, out: Path | None = None
                 ) -> tuple[Path, Path]:
    title, sections = build(run_path, compare)
    out = out or Path(run_path)
    out.mkdir(parents=True, exist_ok=True)
    secrets = env_secrets()
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(to_html(title, sections, secrets), encoding="utf-8")
    md_path.write_text(to_markdown(title, sections, secrets), encoding="utf-8")
    return html_path, md_path


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="reproducibility report + evaluation card "
                                      "(report.html, self-contained, and report.md)")
    p.add_argument("run", type=Path)
    p.add_argument("--compare", type=Path, metavar="RUN2",
                   help="add paired differences against another run of the same task")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: the run)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from memeval.cli import console

    if args.compare is not None and not args.compare.exists():
        raise UserError(f"--compare {args.compare}: no such run folder")
    html_path, md_path = write_report(args.run, args.compare, args.out)
    console.print(f"written: {html_path}\n         {md_path}", highlight=False)
    return 0
