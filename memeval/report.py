"""`memeval report RUN [--compare RUN2]`: the reproducibility report and the minimal evaluation
card of governance.md, as report.html (one self-contained file) and report.md. Everything comes
from the run folder: typed results, item scores, verdicts and the manifest."""

from __future__ import annotations

import shlex
from pathlib import Path

from memeval import stats
from memeval.audit import verify_run
from memeval.redact import env_secrets
from memeval.card import card_section, cost_line, estimate_text, wall_time
from memeval.comparison import compare_runs
from memeval.contracts import Results
from memeval.report_details import task_sections
from memeval.report_render import KV, Image, Section, Table, errorbar_panels, to_html, to_markdown
from memeval.runs import LoadedRun, load_run, paired
from memeval.settings_view import three_setting_view
from memeval.show import fmt, fmt_ci

MAX_PLOTTED_METRICS = 6
MAX_FAILURES_LISTED = 50


def metrics_sections(results: Results, convention: str | None) -> list[Section]:
    rows, strata = [], {}
    for name, entry in results.metrics.items():
        u = entry.spec.unit
        label = f"{name} ({u})" if u else name
        for key, value, b in entry.blocks():
            shown = "overall" if key == "overall" else b.label(value, convention)
            for which, e in (("all", b.all), ("valid", b.valid)):
                rows.append([label, shown, which, e.n, e.n_clusters, fmt(e.mean, u),
                             fmt_ci(e.ci, u), fmt_ci(e.ci_t, u), fmt_ci(e.ci_boot, u),
                             b.n_invalid])
            if key != "overall":
                strata.setdefault(key, []).append(
                    [label, shown, b.all.n, estimate_text(b, "all", u),
                     estimate_text(b, "valid", u), b.n_invalid])
    headers = ["metric", "stratum", "estimator", "n", "clusters", "mean (fractions x100)",
               "95% CI (headline)", "95% CI (t)", "95% CI (cluster bootstrap)", "invalid"]
    naming = results.conventions.get(convention or "", "as the task stores them")
    secs = [Section("Metrics", [
        "Estimators: 'all' counts invalid or failed samples as 0; 'valid' excludes them. The "
        "headline CI is the cluster bootstrap below 30 clusters or for non-means, else "
        f"Student-t on C-1 df. Strata named by: {naming}.",
        Table(headers, rows, id="metrics")], id="metrics-section")]
    for key, srows in strata.items():
        secs.append(Section(f"Per {key}", [Table(
            ["metric", key, "n", "all [95% CI]", "valid [95% CI]", "invalid"], srows,
            id=f"by-{key}")]))
    return secs


def metric_plot(results: Results, convention: str | None) -> Image | None:
    panels = []
    for name, entry in list(results.metrics.items())[:MAX_PLOTTED_METRICS]:
        blocks = list(entry.blocks())
        panels.append((name, ["overall" if k == "overall" else b.label(v, convention)
                              for k, v, b in blocks],
                       [b.all.mean for _, _, b in blocks], [b.all.ci for _, _, b in blocks]))
    if not panels:
        return None
    return Image(errorbar_panels(panels, "mean ('all'), 95% CI"),
                 "metric means with 95% CIs, overall and per stratum")


def compare_section(run: LoadedRun, other_path: Path) -> Section:
    rep = compare_runs([run.folder.path, other_path])
    other = load_run(other_path)
    rows = [[p.metric, f"{p.a} vs {p.b}", f"{p.n} ({p.n_clusters})", fmt(p.mean_a),
             fmt(p.mean_b), fmt(p.diff), fmt_ci(p.ci), p.test,
             f"{p.p_raw:.3g}" if p.p_raw is not None else "-",
             f"{p.p_corrected:.3g}" if p.p_corrected is not None else "-",
             "-" if p.cohens_d is None else f"{p.cohens_d:.2f}",
             "-" if p.cliffs_delta is None else f"{p.cliffs_delta:.2f}", fmt(p.mde)]
            for p in rep.pairs]
    panels = [("overall", [p.metric for p in rep.pairs], [p.diff for p in rep.pairs],
               [p.ci for p in rep.pairs])]
    for metric in rep.metrics[:MAX_PLOTTED_METRICS - 1]:
        spec = run.spec(metric)
        key = spec.strata[0] if spec.strata else None  # the metric's first declared stratum
        levels = sorted({s.strata.get(key) for s in run.scores[metric].values()} - {None}) \
            if key else []
        if len(levels) < 2:
            continue
        vals, cis = [], []
        for lv in levels:
            d = paired(run, other, metric, {key: lv})
            res = stats.paired_bootstrap_diff(d.a, d.b, d.clusters, n_boot=2000, seed=0)
            vals.append(res["diff"])
            cis.append(res["ci"])
        panels.append((f"{metric} by {key}", levels, vals, cis))
    label = (f" (cross-setting: {run.manifest.setting} vs {other.manifest.setting})"
             if rep.cross_setting else "")
    return Section(f"Comparison with {other.label} ({other_path}){label}", [
        f"Paired differences (this run minus {other.label}) on common items; "
        + "; ".join(rep.notes),
        Table(["metric", "runs", "n (clusters)", "this x100", "other x100", "diff x100",
               "95% CI (paired cluster bootstrap)", "test", "p", f"p {rep.correction}", "d",
               "Cliff", "MDE x100"], rows, id="compare"),
        Image(errorbar_panels(panels, "paired difference, 95% CI", zero_line=True),
              "paired differences with 95% CIs")], id="comparison")


def settings_section(runs: list[LoadedRun]) -> Section | None:
    rows = three_setting_view(runs)
    if not rows:
        return None
    return Section("Three-setting view", [
        "The same items answered parametric-only (closed book), with offline retrieval "
        "(reading everything) and online retrieval (memory or RAG): per setting the best run "
        "of those in this report, and the paired difference (cluster bootstrap, same items) "
        "of the best online run over it. Cross-setting differences say what memory adds; "
        "runs are never ranked across settings.",
        Table(["metric", "setting", "best run", "mean x100 [95% CI]",
               "online minus this x100 [95% CI]"],
              [[r.metric, r.setting, r.run, f"{fmt(r.mean)} {fmt_ci(r.ci)}",
                "-" if r.diff is None else f"{fmt(r.diff)} {fmt_ci(r.diff_ci)}"] for r in rows],
              id="settings")], id="settings-section")


def _run_section(run: LoadedRun) -> Section:
    m, folder = run.manifest, run.folder
    audit = verify_run(folder.path) if folder.audit_path.exists() else None
    return Section("Run", [KV([
        ("run id", m.run_id), ("status", m.status), ("created", m.created),
        ("finished", m.finished or "-"), ("wall time", wall_time(m)),
        ("task", f"{m.task.get('name')} v{m.task.get('version')}"),
        ("system", f"{run.label} v{m.system.get('version')}"), ("seed", m.seed),
        ("setting", m.setting), ("suite", m.suite or "-"),
        ("LLM", f"{m.llm.get('model')} via {m.llm.get('backend')} ({m.llm.get('identity')})"
         if m.llm else "none"),
        ("config sha256", m.config_sha256), ("counts", m.counts),
        ("audit log", "missing" if audit is None else
         f"{'OK' if audit.ok else 'BROKEN'}: {audit.reason}; last sha256 {audit.last_sha256}")]),
        ], id="run")


def _tail_sections(run: LoadedRun) -> list[Section]:
    m, folder = run.manifest, run.folder
    preds = folder.predictions()
    errors = [p for p in preds.values() if p.error is not None]
    cost = m.cost or {}
    git = m.git or {}
    info = m.task.get("data") or {}
    return [
        Section("Failures", [
            f"{len(errors)} of {len(preds)} predictions failed (they score 0 in 'all', are "
            "excluded in 'valid')." + (f" First {MAX_FAILURES_LISTED} listed." if len(errors) >
                                       MAX_FAILURES_LISTED else ""),
            *([Table(["sample", "error"], [[p.sample_id, p.error] for p in
                                           errors[:MAX_FAILURES_LISTED]], id="failures")]
              if errors else [])], id="failures-section"),
        Section("Cost", [cost_line(m), Table(
            ["caller", "calls", "cache hits", "failures", "prompt tokens", "completion tokens",
             "seconds", "latency p50 s", "latency p95 s"],
            [[k, c.get("calls"), c.get("cache_hits"), c.get("failures"), c.get("prompt_tokens"),
              c.get("completion_tokens"), c.get("seconds"), c.get("latency_p50"),
              c.get("latency_p95")] for k, c in cost.items()], id="cost")], id="cost-section"),
        Section("Environment", [KV([
            ("memeval", m.memeval_version), ("python", m.machine.get("python")),
            ("platform", m.machine.get("platform")), ("machine", m.machine.get("machine")),
            ("cpus", m.machine.get("cpus")), ("git commit", git.get("commit")),
            ("git dirty", git.get("dirty"))]),
            Table(["package", "version"], [[k, v] for k, v in sorted(m.packages.items())],
                  id="packages")], id="environment"),
        Section("Data", [KV([
            ("path", info.get("path")), ("sha256", info.get("sha256")),
            ("license", info.get("license", "unknown")), ("source", info.get("source", "unknown")),
            ("known defects", run.results.known_defects or "none recorded")])], id="data")]


def build(run_path: Path, compare: Path | list[Path] | None = None,
          convention: str | None = None) -> tuple[str, list[Section]]:
    run = load_run(run_path)
    m, folder, results = run.manifest, run.folder, run.results
    reproduce = f"memeval reproduce {shlex.quote(str(folder.path))}"
    original = " ".join(shlex.quote(c) for c in m.command)
    secs = [_run_section(run), Section("How to reproduce", [
        "One command reruns this configuration into a new folder and reports metrics that "
        "differ beyond their CIs:", f"$ {reproduce}", "The original command was:",
        f"$ {original}"], id="reproduce")]
    secs.append(card_section(run, folder.verdicts(), reproduce))
    conv = convention or next(iter(results.conventions), None)
    secs += metrics_sections(results, conv)
    if results.notes:
        secs.append(Section("Notes from the task", list(results.notes), id="task-notes"))
    plot = metric_plot(results, conv)
    if plot is not None:
        secs.append(Section("Plots", [plot], id="plots"))
    secs += task_sections(results, folder.path)
    others = [compare] if isinstance(compare, Path) else list(compare or [])
    for other in others:
        secs.append(compare_section(run, other))
    settings = settings_section([run, *(load_run(o) for o in others)]) if others else None
    if settings is not None:
        secs.append(settings)
    secs += _tail_sections(run)
    return f"memeval report: {m.run_id} ({m.task.get('name')} x {run.label})", secs


def write_report(run_path: Path, compare: Path | list[Path] | None = None,
                 out: Path | None = None) -> tuple[Path, Path]:
    title, sections = build(run_path, compare)
    out = out or Path(run_path)
    out.mkdir(parents=True, exist_ok=True)
    secrets = env_secrets()
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(to_html(title, sections, secrets), encoding="utf-8")
    md_path.write_text(to_markdown(title, sections, secrets), encoding="utf-8")
    return html_path, md_path
