"""What a task declares about each metric it reports. Every consumer (show, report, compare,
gov, the leaderboard) reads these declarations, never the metric's name, to decide direction,
unit, estimator and whether items can be paired across runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The evaluation card's rows (governance.md) plus the families the parametric packs need.
# "reference": a property of the data, the same for every system (e.g. a gold-answer ceiling).
Family = Literal["correctness", "faithfulness", "timeliness", "refusal", "robustness", "cost",
                 "judge", "capacity", "reference"]
# mean: mean of item values (clustered SE, t CI, bootstrap CI below 30 clusters);
# ratio: sum(value * weight) / sum(weight), SE and headline CI from the cluster bootstrap of the
# ratio itself; custom: computed by the task's own aggregate (e.g. an F1 of two ratios).
Estimator = Literal["mean", "ratio", "custom"]


class MetricSpec(BaseModel):
    """One metric as its task declares it.

    `strata`: the `Score.strata` keys the metric is broken down by; `levels` lists values of a
    stratum that are always reported (n = 0 where a run has none), in that order. `pairable`:
    item-level scores mean the same item in every run, so paired tests may join them on
    sample_id (false for, e.g., a system's own extracted memories). `judged`: the metric needs
    judge verdicts and exists only in runs that judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    higher_is_better: bool = True
    unit: str = ""  # "" = a fraction in [0, 1], shown x100; else shown as is (nats, bits)
    estimator: Estimator = "mean"
    family: Family = "correctness"
    strata: tuple[str, ...] = ()
    levels: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    overall: bool = True  # False where pooling the strata answers no question
    pairable: bool = True
    judged: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        stray = set(self.levels) - set(self.strata)
        if stray:
            raise ValueError(f"metric {self.name!r}: levels for undeclared strata {sorted(stray)}")
        if not self.overall and not self.strata:
            raise ValueError(f"metric {self.name!r}: no overall value and no strata")
        if self.estimator == "custom" and self.pairable:
            raise ValueError(f"metric {self.name!r}: a custom estimator has no items to pair")
        return self

    @property
    def is_fraction(self) -> bool:
        return not self.unit

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"
