"""Persisted records of the admission gate (spec: governance.md): the pre-registered policy (and
its loader) and the change-audit certificate with the paper's seven fields (target, time,
method, verification, regression, rollback, audit)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memeval.errors import UserError

Decision = Literal["admit", "reject", "inconclusive"]
Status = Literal["pass", "fail", "inconclusive", "not_measured", "skipped", "n/a"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricRule(_Model):
    """One gate metric. `threshold`: the candidate's 95% CI must clear it (lower bound >= it when
    higher is better, upper bound <= it otherwise). `margin`: non-inferiority: the paired
    improvement's lower CI bound, at its Holm level, must be above -margin."""

    metric: str
    stratum: dict[str, str] = Field(default_factory=dict)  # e.g. {"category": "5"}
    higher_is_better: bool | None = None  # None: as the task declares the metric
    threshold: float | None = None
    margin: float | None = Field(default=None, ge=0)
    required: bool = True  # False: skipped (and said so) when the runs lack the metric
    note: str = ""

    @model_validator(mode="after")
    def _has_a_test(self) -> "MetricRule":
        if self.threshold is None and self.margin is None:
            raise ValueError(f"rule {self.name!r} needs a threshold, a margin, or both")
        return self

    @property
    def name(self) -> str:
        strat = ",".join(f"{k}={v}" for k, v in sorted(self.stratum.items()))
        return f"{self.metric}[{strat}]" if strat else self.metric

    @model_validator(mode="before")
    @classmethod
    def _stratum_as_str(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("stratum"), dict):
            data = {**data, "stratum": {str(k): str(v) for k, v in data["stratum"].items()}}
        return data


class Policy(_Model):
    name: str
    description: str = ""
    task: str | list[str] | None = None  # runs of other tasks are refused

    @property
    def tasks(self) -> list[str]:
        return [] if self.task is None else [self.task] if isinstance(self.task, str) else self.task
    alpha: float = Field(default=0.05, gt=0, lt=0.5)  # two-sided CI level 1 - alpha
    n_boot: int = Field(default=10000, ge=200)
    seed: int = 0
    # below this many clusters a cluster bootstrap has too few distinct resamples to decide on
    min_clusters: int = Field(default=5, ge=2)
    route: str = "memory-system config change"  # certificate `method` unless --route says
    expiry_days: int | None = Field(default=90, ge=1)
    rules: list[MetricRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Policy":
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate rule(s): {', '.join(dup)}")
        return self


class Estimate(_Model):
    mean: float | None
    ci: tuple[float, float] | None
    se: float | None
    n: int
    n_clusters: int
    n_invalid: int


class RuleResult(_Model):
    rule: str
    metric: str
    stratum: dict[str, str]
    higher_is_better: bool
    status: Status
    reasons: list[str]
    baseline: Estimate | None = None
    candidate: Estimate | None = None
    threshold: float | None = None
    threshold_status: Status = "n/a"
    margin: float | None = None
    margin_status: Status = "n/a"
    diff: float | None = None  # candidate - baseline, paired, raw units
    improvement: float | None = None  # diff signed so that > 0 is better
    improvement_ci: tuple[float, float] | None = None  # 95% paired cluster bootstrap
    holm_level: float | None = None  # two-sided level of this rule's Holm step
    improvement_lower_holm: float | None = None  # lower bound at that level
    p_noninferiority: float | None = None  # bootstrap P(improvement <= -margin)
    p_noninferiority_holm: float | None = None
    p_regression_holm: float | None = None  # Holm-adjusted P(improvement >= -margin)
    n_paired: int = 0
    more_items: int | None = None  # extra items that would decide an inconclusive rule
    more_clusters: int | None = None


class Snapshot(_Model):
    run_id: str
    path: str
    system: str
    system_version: str
    system_options: dict[str, Any]
    setting: str = ""  # three-setting protocol (parametric-only / offline / online retrieval)
    seed: int
    config_sha256: str
    manifest_sha256: str
    scores_sha256: str
    audit_count: int | None
    audit_last_sha256: str | None
    created: str
    finished: str | None
    git_commit: str | None
    git_dirty: bool | None


class Target(_Model):
    change: str
    changed_config: dict[str, Any]  # config key -> [baseline, candidate]
    baseline: Snapshot
    candidate: Snapshot
    sources: list[str]
    evidence: list[str]


class TimeInfo(_Model):
    decided: str
    effective: str | None  # only an admitted change takes effect
    expiry: str | None
    window_start: str
    window_end: str | None


class Method(_Model):
    route: str
    description: str


class Verification(_Model):
    policy: str
    alpha: float
    correction: str = "holm (across the policy's non-inferiority rules)"
    estimator: str
    n_boot: int
    seed: int
    rules: list[RuleResult]


class Regression(_Model):
    non_inferiority: dict[str, Status]
    run: list[str]
    not_run: list[str]


class Rollback(_Model):
    to_run: str
    to_system: str
    reproduce: str
    affects: str


class AuditInfo(_Model):
    memeval_version: str
    operator: str
    approvals: list[str]
    policy_path: str
    policy_sha256: str
    candidate_audit_log: str
    gate_event_seq: int


class MoreSamples(_Model):
    items: int | None
    clusters: int | None
    per_rule: dict[str, int | None]
    assumption: str


class Certificate(_Model):
    schema_version: Literal["memeval.gate/1"] = "memeval.gate/1"
    decision: Decision
    failing: list[str]
    inconclusive: list[str]
    more_samples: MoreSamples | None
    target: Target
    time: TimeInfo
    method: Method
    verification: Verification
    regression: Regression
    rollback: Rollback
    audit: AuditInfo


# ---- policy files -----------------------------------------------------------------------------

def shipped_policies() -> dict[str, Path]:
    root = resources.files("memeval.suites")
    return {Path(str(p)).stem.removeprefix("policy-"): Path(str(p)) for p in root.iterdir()
            if Path(str(p)).name.startswith("policy-") and str(p).endswith(".yaml")}


def load_policy(spec: str | Path) -> tuple[Policy, Path, str]:
    """A policy file, or the name of a shipped one (`locomo` -> suites/policy-locomo.yaml)."""
    path = Path(spec)
    if not path.exists():
        shipped = shipped_policies()
        if str(spec) not in shipped:
            raise UserError(f"policy {str(spec)!r} not found (a YAML file, or one of: "
                            f"{', '.join(sorted(shipped))})")
        path = shipped[str(spec)]
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"{path}{f' line {mark.line + 1}' if mark else ''}: invalid YAML "
                        f"({getattr(e, 'problem', e)})") from e
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise UserError(f"{path}: invalid policy at {where}: {first['msg']}") from e
    return policy, path, hashlib.sha256(raw_bytes).hexdigest()
