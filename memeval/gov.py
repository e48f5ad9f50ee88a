"""Admission gate (spec: governance.md): `memeval gov check --baseline A --candidate B --policy P`.

The decision uses CIs and paired tests, never point estimates. Thresholds hold only if the
candidate's 95% CI clears them; non-inferiority holds only if the paired improvement's lower
bound, at its Holm level across the policy's margin rules, is above -margin. Any clear failure
rejects; anything undecided makes the gate inconclusive, and the certificate says how many more
items would decide it. The decision is appended to the candidate's audit log.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from memeval import __version__, stats
from memeval.audit import GATE_DECISION, AuditLog, verify_run
from memeval.comparison import ESTIMATOR_NOTE
from memeval.errors import UserError
from memeval.fileio import sha256_file, write_json_atomic
from memeval.gov_models import (AuditInfo, Certificate, Decision, Estimate, Method, MetricRule,
                                MoreSamples, Policy, Regression, Rollback, RuleResult, Snapshot,
                                Target, TimeInfo, Verification, load_policy)
from memeval.runs import LoadedRun, check_comparable, load_run, paired

EXIT = {"admit": 0, "reject": 1, "inconclusive": 3}  # 2 is a user error (cli.main)
NOT_RUN = ["long-form consistency", "conflict/reversibility probes", "out-of-template inputs"]


def _values(run: LoadedRun, rule: MetricRule) -> tuple[np.ndarray, np.ndarray, int]:
    rows = [s for s in run.scores.get(rule.metric, {}).values()
            if all(s.strata.get(k) == v for k, v in rule.stratum.items())]
    vals = np.array([0.0 if s.value is None else s.value for s in rows])  # "(all)" estimator
    return vals, np.array([s.cluster for s in rows], dtype=str), sum(s.value is None for s in rows)


def _estimate(run: LoadedRun, rule: MetricRule, pol: Policy) -> Estimate | None:
    vals, cl, bad = _values(run, rule)
    if not len(vals):
        return None
    s = stats.summarize(vals, cl, level=1 - pol.alpha, n_boot=pol.n_boot, seed=pol.seed,
                        invalid="all")
    return Estimate(mean=s.mean, ci=s.ci, se=s.se, n=s.n, n_clusters=s.n_clusters, n_invalid=bad)


def _more(n: int, c: int, se: float | None, gap: float, z: float) -> tuple[int | None, int | None]:
    """Extra items (and clusters) for a CI of half-width z*se*sqrt(n/n') to exclude the bound at
    distance `gap` from the estimate, if the estimate stays and SE ~ 1/sqrt(n)."""
    if se is None or not math.isfinite(se) or se <= 0 or gap <= 0:
        return None, None
    factor = (z * se / gap) ** 2
    return max(1, math.ceil(n * factor) - n), max(1, math.ceil(c * factor) - c)


def _threshold(res: RuleResult, rule: MetricRule, z: float) -> None:
    cand, tau = res.candidate, rule.threshold
    if tau is None or cand is None:
        return
    res.threshold = tau
    sign = 1.0 if rule.higher_is_better else -1.0
    if cand.ci is None:
        res.threshold_status = "inconclusive"
        res.reasons.append(f"candidate has {cand.n_clusters} cluster(s): no CI for the threshold")
        return
    lo, hi = sorted(sign * np.array(cand.ci))
    if lo >= sign * tau:
        res.threshold_status = "pass"
    elif hi < sign * tau:
        res.threshold_status = "fail"
        res.reasons.append(f"candidate CI {_ci(cand.ci)} is entirely on the wrong side of "
                           f"threshold {tau:g}")
    else:
        res.threshold_status = "inconclusive"
        res.reasons.append(f"candidate CI {_ci(cand.ci)} contains threshold {tau:g}")
        items, cl = _more(cand.n, cand.n_clusters, cand.se, abs((cand.mean or 0.0) - tau), z)
        res.more_items, res.more_clusters = items, cl


def _ci(ci: Any) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "none"


def _margin_reps(base: LoadedRun, cand: LoadedRun, rule: MetricRule, res: RuleResult,
                 pol: Policy) -> np.ndarray | None:
    """Bootstrap replicates of the paired improvement (clusters resampled, pairs kept)."""
    d = paired(cand, base, rule.metric, rule.stratum or None)
    res.n_paired = len(d.ids)
    if not res.n_paired:
        res.reasons.append("no item scored in both runs")
        return None
    sign = 1.0 if rule.higher_is_better else -1.0
    imp = sign * (d.a - d.b)
    res.diff, res.improvement = float((d.a - d.b).mean()), float(imp.mean())
    captured: list[np.ndarray] = []

    def mean_of(t: dict[str, np.ndarray]) -> np.ndarray:
        out = t["d"] / t["n"]
        captured.append(out)
        return out

    _, _, ci = stats.cluster_bootstrap(mean_of, {"d": imp, "n": np.ones(len(imp))},
                                       d.clusters, n_boot=pol.n_boot, seed=pol.seed,
                                       level=1 - pol.alpha)
    if len(captured) < 2:  # only the point estimate ran: fewer than two clusters
        res.reasons.append("fewer than 2 clusters: the paired difference has no CI")
        return None
    res.improvement_ci = ci
    return captured[-1][np.isfinite(captured[-1])]


def _margins(base: LoadedRun, cand: LoadedRun, rules: list[MetricRule],
             results: dict[str, RuleResult], pol: Policy) -> None:
    """Holm step-down over the margin rules: p = bootstrap P(improvement <= -margin)."""
    reps: dict[str, np.ndarray] = {}
    for rule in rules:
        res = results[rule.name]
        res.margin = rule.margin
        got = _margin_reps(base, cand, rule, res, pol)
        if got is None:
            res.margin_status = "inconclusive"
        else:
            reps[rule.name] = got
    if not reps:
        return
    margin = {r.name: float(r.margin or 0.0) for r in rules}
    names = list(reps)
    p_ni = [float(np.mean(reps[n] <= -margin[n])) for n in names]
    p_reg = [float(np.mean(reps[n] >= -margin[n])) for n in names]
    adj_ni = stats.correct_pvalues(p_ni, "holm")
    adj_reg = stats.correct_pvalues(p_reg, "holm")
    m = len(names)
    order = {n: i for i, n in enumerate(sorted(names, key=lambda n: p_ni[names.index(n)]))}
    one_sided = pol.alpha / 2  # the lower bound of a two-sided (1 - alpha) CI
    for k, n in enumerate(names):
        res, level = results[n], pol.alpha / (m - order[n])
        res.holm_level = 1 - level
        res.improvement_lower_holm = float(np.quantile(reps[n], level / 2))
        res.p_noninferiority, res.p_noninferiority_holm = p_ni[k], adj_ni[k]
        res.p_regression_holm = adj_reg[k]
        if adj_ni[k] <= one_sided:
            res.margin_status = "pass"
        elif adj_reg[k] <= one_sided:
            res.margin_status = "fail"
            res.reasons.append(f"regression beyond margin {margin[n]:g}: improvement "
                               f"{res.improvement:+.4f}, CI {_ci(res.improvement_ci)}")
        else:
            res.margin_status = "inconclusive"
            res.reasons.append(f"improvement CI {_ci(res.improvement_ci)} (lower bound at the "
                               f"Holm level {res.improvement_lower_holm:+.4f}) crosses "
                               f"-margin {-margin[n]:g}")
            z = float(sps.norm.ppf(1 - level / 2))
            items, cl = _more(res.n_paired, (res.candidate.n_clusters if res.candidate else 1),
                              float(np.std(reps[n], ddof=1)), abs(res.improvement + margin[n]), z)
            res.more_items = max(filter(None, [items, res.more_items]), default=None)
            res.more_clusters = max(filter(None, [cl, res.more_clusters]), default=None)


def _status(res: RuleResult) -> None:
    parts = [s for s in (res.threshold_status, res.margin_status) if s != "n/a"]
    res.status = ("fail" if "fail" in parts else "inconclusive" if "inconclusive" in parts
                  else "pass")


def resolve_direction(rule: MetricRule, run: LoadedRun) -> MetricRule:
    """The rule with the direction its task declares for the metric; a policy that states the
    opposite direction is refused (it would pass regressions)."""
    spec = run.results.spec(rule.metric)
    if spec is None:
        return rule if rule.higher_is_better is not None else rule.model_copy(
            update={"higher_is_better": True})  # not measured: the direction is never used
    if rule.higher_is_better is not None and rule.higher_is_better != spec.higher_is_better:
        raise UserError(f"policy rule {rule.name}: higher_is_better={rule.higher_is_better} but "
                        f"task {run.results.task} declares {rule.metric} {spec.direction}")
    return rule.model_copy(update={"higher_is_better": spec.higher_is_better})


def _pairable(run: LoadedRun, metric: str) -> bool:
    spec = run.results.spec(metric)
    return spec is not None and spec.pairable


def evaluate(base: LoadedRun, cand: LoadedRun, pol: Policy) -> tuple[Decision, list[RuleResult]]:
    z = float(sps.norm.ppf(1 - pol.alpha / 2))
    results: dict[str, RuleResult] = {}
    measured: list[MetricRule] = []
    for rule in (resolve_direction(r, cand) for r in pol.rules):
        res = RuleResult(rule=rule.name, metric=rule.metric, stratum=rule.stratum,
                         higher_is_better=rule.higher_is_better, status="n/a", reasons=[],
                         baseline=_estimate(base, rule, pol), candidate=_estimate(cand, rule, pol))
        results[rule.name] = res
        if res.baseline is None or res.candidate is None:
            res.status = "not_measured" if rule.required else "skipped"
            res.reasons.append(f"{rule.name} is not in the "
                               f"{'baseline' if res.baseline is None else 'candidate'} run"
                               + ("" if rule.required else " (not required: skipped)"))
            continue
        c = min(res.baseline.n_clusters, res.candidate.n_clusters)
        if c < pol.min_clusters:
            res.status = "inconclusive"
            res.more_clusters = pol.min_clusters - c
            res.more_items = math.ceil(res.candidate.n / max(c, 1) * res.more_clusters)
            res.reasons.append(f"only {c} cluster(s), policy min_clusters {pol.min_clusters}: "
                               "too few for a cluster-bootstrap decision")
            continue
        measured.append(rule)
        _threshold(res, rule, z)
    for rule in measured:  # e.g. extracted memories: no item exists in both runs to pair
        if rule.margin is not None and not _pairable(cand, rule.metric):
            results[rule.name].reasons.append("items differ per system: no paired margin test")
    _margins(base, cand, [r for r in measured if r.margin is not None
                          and _pairable(cand, r.metric)], results, pol)
    for rule in measured:
        _status(results[rule.name])
    out = list(results.values())
    if any(r.status == "fail" for r in out):
        return "reject", out
    if any(r.status in ("inconclusive", "not_measured") for r in out):
        return "inconclusive", out
    return "admit", out


def _snapshot(r: LoadedRun) -> Snapshot:
    m, f = r.manifest, r.folder
    return Snapshot(run_id=m.run_id, path=str(f.path.resolve()), system=str(m.system.get("name")),
                    system_version=str(m.system.get("version")),
                    system_options=m.system.get("options") or {}, setting=m.setting,
                    seed=m.seed,
                    config_sha256=m.config_sha256, manifest_sha256=sha256_file(f.manifest_path, missing=""),
                    scores_sha256=sha256_file(f.scores_path, missing=""),
                    audit_count=m.audit_tail.get("count"),
                    audit_last_sha256=m.audit_tail.get("last_sha256"), created=m.created,
                    finished=m.finished, git_commit=m.git.get("commit"),
                    git_dirty=m.git.get("dirty"))


def _changed(base: LoadedRun, cand: LoadedRun) -> dict[str, Any]:
    a, b = base.manifest.config, cand.manifest.config
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def gate(baseline: Path, candidate: Path, policy_spec: str | Path, *, operator: str | None = None,
         approvals: list[str] | None = None, route: str | None = None,
         out: Path | None = None) -> Certificate:
    """Decide, write the certificate, and append `gate.decision` to the candidate's audit log."""
    pol, ppath, psha = load_policy(policy_spec)
    base, cand = load_run(baseline), load_run(candidate)
    check_comparable([base, cand])
    task = cand.manifest.task.get("name")
    if pol.tasks and task not in pol.tasks:
        raise UserError(f"policy {pol.name!r} is for {', '.join(pol.tasks)}, the runs are {task!r}")
    ok = verify_run(cand.folder.path)  # never extend, or re-seal, a log that is already broken
    if not ok.ok:
        raise UserError(f"{cand.folder.audit_path}: {ok.reason}; refusing to record a gate "
                        "decision on a broken audit trail")
    decision, rules = evaluate(base, cand, pol)
    now = datetime.now(timezone.utc)
    extra = {r.rule: r.more_items for r in rules if r.status == "inconclusive"}
    more = None
    if decision == "inconclusive":
        known = [r for r in rules if r.status == "inconclusive" and r.more_items is not None]
        more = MoreSamples(items=max((r.more_items or 0 for r in known), default=None),
                           clusters=max((r.more_clusters or 0 for r in known), default=None),
                           per_rule=extra, assumption="point estimates stay and the standard "
                           "error shrinks as 1/sqrt(n), with clusters of the current size; "
                           "None: not estimable (one cluster, or an estimate exactly on the bound)")
    changed = _changed(base, cand)
    desc = (f"{base.label} -> {cand.label}; config changes: "
            + (", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in changed.items()) or "none"))
    if base.manifest.setting != cand.manifest.setting:  # e.g. introducing a memory system
        desc += (f"; cross-setting: {base.manifest.setting} -> {cand.manifest.setting}")
    data = cand.manifest.task.get("data") or {}
    cert = Certificate(
        decision=decision, failing=[r.rule for r in rules if r.status == "fail"],
        inconclusive=[r.rule for r in rules if r.status in ("inconclusive", "not_measured")],
        more_samples=more,
        target=Target(change=desc, changed_config=changed, baseline=_snapshot(base),
                      candidate=_snapshot(cand),
                      sources=[f"{task} v{cand.manifest.task.get('version')} data "
                               f"{data.get('path')} sha256 {data.get('sha256')} "
                               f"({data.get('license')})"],
                      evidence=[str(base.folder.path.resolve()), str(cand.folder.path.resolve())]),
        time=TimeInfo(decided=now.isoformat(timespec="seconds"),
                      effective=now.isoformat(timespec="seconds") if decision == "admit" else None,
                      expiry=(now + timedelta(days=pol.expiry_days)).isoformat(timespec="seconds")
                      if decision == "admit" and pol.expiry_days else None,
                      window_start=base.manifest.created, window_end=cand.manifest.finished),
        method=Method(route=route or pol.route, description=desc),
        verification=Verification(policy=pol.name, alpha=pol.alpha, estimator=ESTIMATOR_NOTE,
                                  n_boot=pol.n_boot, seed=pol.seed, rules=rules),
        regression=Regression(
            non_inferiority={r.rule: r.margin_status for r in rules if r.margin is not None},
            run=[f"paired non-inferiority on {r.rule} (margin {r.margin:g})" for r in rules
                 if r.margin is not None], not_run=NOT_RUN),
        rollback=Rollback(to_run=str(base.folder.path.resolve()), to_system=base.label,
                          reproduce=f"memeval reproduce {base.folder.path}",
                          affects=f"the memory system evaluated on {task}: rolling back restores "
                                  f"{base.label}" + ("" if decision == "admit" else
                                                     " (nothing to undo: not admitted)")),
        audit=AuditInfo(memeval_version=__version__, operator=operator or _operator(),
                        approvals=approvals or [], policy_path=str(ppath.resolve()),
                        policy_sha256=psha, candidate_audit_log=str(cand.folder.audit_path),
                        gate_event_seq=int(cand.manifest.audit_tail.get("count", ok.n_events))))
    out = out or cand.folder.path / "gate_certificate.json"
    doc = cert.model_dump(mode="json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, doc)
    _record(cand, cert, hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(), out)
    return cert


def _operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _record(cand: LoadedRun, cert: Certificate, cert_sha: str, path: Path) -> None:
    """Append the decision, then move the manifest's audit_tail to it so `audit verify` still
    matches (the tail is what catches a cut log)."""
    log = AuditLog(cand.folder.audit_path)
    try:
        log.emit(GATE_DECISION, "memeval.gov", {
            "decision": cert.decision, "failing": cert.failing, "inconclusive": cert.inconclusive,
            "policy": cert.verification.policy, "policy_sha256": cert.audit.policy_sha256,
            "baseline_run": cert.target.baseline.run_id, "certificate": str(path),
            "certificate_sha256": cert_sha, "operator": cert.audit.operator})
        tail = log.tail
    finally:
        log.close()
    m = cand.folder.manifest()
    m.audit_tail = tail
    cand.folder.write_manifest(m)
