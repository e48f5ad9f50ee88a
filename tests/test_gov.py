"""`memeval gov check` on real runs: inconclusive, reject, admit; certificate schema; the
gate.decision audit event; policy validation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

import memeval_runs as mr
from memeval import suite as suites
from memeval.audit import verify_run
from memeval.runs import load_run, paired
from memeval.errors import UserError
from memeval.gov import gate
from memeval.gov_models import load_policy, shipped_policies
from memeval.gov_models import Certificate
from memeval.stats import paired_bootstrap_diff


def policy(tmp_path: Path, rules: list[dict], name: str = "test") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "task": "locomo", "rules": rules}))
    return path


def check(tmp_path: Path, base: Path, cand: Path, pol: Path) -> tuple[int, Certificate, Path]:
    """Run the gate through the CLI on private copies; return exit code, certificate, cand."""
    b = mr.copy_run(base, tmp_path / "baseline")
    c = mr.copy_run(cand, tmp_path / "candidate")
    out = tmp_path / "cert.json"
    res = mr.memeval("gov", "check", "--baseline", str(b), "--candidate", str(c), "--policy",
                     str(pol), "--out", str(out), "--operator", "tester", "--approve", "lead",
                     check=False)
    assert res.returncode in (0, 1, 3), res.stdout + res.stderr
    return res.returncode, Certificate.model_validate_json(out.read_text()), c


def assert_recorded(cand: Path, cert_path: Path, decision: str) -> None:
    """The decision is the candidate log's last event, and the chain + manifest still verify."""
    res = mr.memeval("audit", "verify", str(cand))
    assert res.stdout.startswith("OK ") and "chain intact" in res.stdout
    assert verify_run(cand).ok
    last = json.loads(cand.joinpath("audit.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "gate.decision" and last["payload"]["decision"] == decision
    doc = json.loads(cert_path.read_text())
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    assert last["payload"]["certificate_sha256"] == digest
    assert last["seq"] == doc["audit"]["gate_event_seq"]
    manifest = json.loads(cand.joinpath("manifest.json").read_text())
    assert manifest["audit_tail"]["last_sha256"] == last["sha256"]


@pytest.mark.slow
def test_better_candidate_with_wide_ci_is_inconclusive(tmp_path: Path) -> None:
    a, b = mr.bm25(), mr.no_memory()
    d = paired(load_run(a), load_run(b), "f1_official")
    boot = paired_bootstrap_diff(d.a, d.b, d.clusters, n_boot=10000, seed=0)
    # the better of the two real runs is the candidate
    cand, base, ci = (a, b, boot["ci"]) if boot["diff"] > 0 else (b, a, (-boot["ci"][1],
                                                                        -boot["ci"][0]))
    gain = abs(boot["diff"])
    assert gain > 0 and ci[0] < 0, f"precondition: better but uncertain, got {gain} {ci}"
    margin = -ci[0] / 2  # -margin lies inside the CI, above its lower bound
    pol = policy(tmp_path, [{"metric": "f1_official", "margin": margin}])
    code, cert, c = check(tmp_path, base, cand, pol)
    assert (code, cert.decision) == (3, "inconclusive")
    (rule,) = cert.verification.rules
    assert rule.improvement == pytest.approx(gain) and rule.margin_status == "inconclusive"
    assert rule.improvement_ci[0] < -margin < rule.improvement_ci[1]
    assert cert.more_samples is not None and cert.more_samples.items > 0
    assert cert.more_samples.clusters > 0 and cert.inconclusive == ["f1_official"]
    assert cert.time.effective is None and cert.audit.approvals == ["lead"]
    # no-memory (parametric-only) vs BM25 retrieval (online): a gate may admit memory itself,
    # and the certificate says that the change crosses settings
    settings = {cert.target.baseline.setting, cert.target.candidate.setting}
    assert settings == {"parametric-only", "online-retrieval"}
    assert "cross-setting:" in cert.target.change
    assert_recorded(c, tmp_path / "cert.json", "inconclusive")


@pytest.mark.slow
def test_clear_regression_is_rejected(tmp_path: Path) -> None:
    # candidate: the same memory with one-token answers (refusals no longer fit)
    pol = policy(tmp_path, [
        {"metric": "f1_official", "margin": 0.02},
        {"metric": "f1_official", "stratum": {"category": 5}, "margin": 0.02, "threshold": 0.5},
    ])
    code, cert, c = check(tmp_path, mr.bm25(), mr.bm25_truncated(), pol)
    assert (code, cert.decision) == (1, "reject")
    assert set(cert.failing) == {"f1_official", "f1_official[category=5]"}
    for r in cert.verification.rules:
        assert r.margin_status == "fail" and r.improvement_ci[1] < -0.02
        assert r.p_regression_holm is not None and r.p_regression_holm <= 0.025
    cat5 = cert.verification.rules[1]
    assert cat5.threshold_status == "fail" and cat5.candidate.ci[1] < 0.5
    changed = cert.target.changed_config  # only the answer length changed
    assert set(changed) == {"task_options"} and changed["task_options"][1]["answer_max_tokens"] == 1
    assert "answer_max_tokens" not in changed["task_options"][0]
    assert cert.rollback.to_run == str((tmp_path / "baseline").resolve())
    assert_recorded(c, tmp_path / "cert.json", "reject")


@pytest.mark.slow
def test_clear_improvement_is_admitted_with_all_seven_fields(tmp_path: Path) -> None:
    pol = policy(tmp_path, [{"metric": "f1_official", "margin": 0.02},
                            {"metric": "llm_judge", "margin": 0.02, "required": False}])
    code, cert, c = check(tmp_path, mr.bm25_truncated(), mr.bm25(), pol)
    assert (code, cert.decision) == (0, "admit") and not cert.failing
    doc = json.loads((tmp_path / "cert.json").read_text())
    for field in ("target", "time", "method", "verification", "regression", "rollback", "audit"):
        assert doc[field], field
    assert cert.verification.rules[1].status == "skipped"  # not judged: said, not hidden
    assert cert.time.effective and cert.time.expiry
    assert cert.audit.policy_sha256 == hashlib.sha256(pol.read_bytes()).hexdigest()
    assert cert.audit.operator == "tester"
    assert cert.target.candidate.scores_sha256 == hashlib.sha256(
        (c / "scores.jsonl").read_bytes()).hexdigest()
    assert_recorded(c, tmp_path / "cert.json", "admit")


@pytest.mark.slow
def test_gate_refuses_a_broken_audit_trail(tmp_path: Path) -> None:
    base = mr.copy_run(mr.no_memory(), tmp_path / "b")
    cand = mr.copy_run(mr.bm25(), tmp_path / "c")
    lines = (cand / "audit.jsonl").read_text().splitlines(keepends=True)
    (cand / "audit.jsonl").write_text("".join(lines[:-1]))  # cut tail: the manifest knows
    pol = policy(tmp_path, [{"metric": "f1_official", "margin": 0.02}])
    with pytest.raises(UserError, match="truncated tail"):
        gate(base, cand, pol, out=tmp_path / "cert.json")
    assert not (tmp_path / "cert.json").exists()


def test_shipped_policies_validate_and_are_not_suites() -> None:
    shipped = shipped_policies()
    assert set(shipped) >= {"locomo", "halumem"}
    for name in ("locomo", "halumem"):
        pol, path, sha = load_policy(name)
        assert name in pol.tasks and len(sha) == 64 and path.name == f"policy-{name}.yaml"
        assert all(r.margin is not None or r.metric == "memory_accuracy" for r in pol.rules)
    halu = {r.metric: r for r in load_policy("halumem")[0].rules}
    assert not halu["qa_hallucination"].higher_is_better and halu["qa_hallucination"].threshold \
        == 0.05 and not halu["qa_omission"].higher_is_better and halu["fmr"].higher_is_better
    assert not any(n.startswith("policy-") for n in suites.names())


@pytest.mark.parametrize("text, words", [
    ("name: x\nrules: [{metric: f1_official}]\n", "needs a threshold, a margin"),
    ("name: x\nrules: [{metric: f1_official, margin: -0.1}]\n", "greater than or equal"),
    ("name: x\nrules: []\n", "rules"),
    ("name: x\nrule: [{metric: a, margin: 0.1}]\n", "rule"),
    ("name: x\nrules: [{metric: a, margin: 0.1}, {metric: a, threshold: 1}]\n", "duplicate"),
    ("name: x\nrules: [metric: a\n", "invalid YAML"),
])
def test_bad_policies_are_user_errors(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=words):
        load_policy(path)


@pytest.mark.slow
def test_too_few_clusters_is_inconclusive_not_decided(tmp_path: Path) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump({"name": "strict", "min_clusters": 11, "rules": [
        {"metric": "f1_official", "margin": 0.02}]}))
    code, cert, _ = check(tmp_path, mr.bm25(), mr.bm25_truncated(), path)  # a clear regression
    assert (code, cert.decision) == (3, "inconclusive")
    (rule,) = cert.verification.rules
    assert rule.more_clusters == 1 and "min_clusters 11" in rule.reasons[0]
