"""The typed results file (`metrics.json`): written in one place (memeval.scoring) for both
`memeval run` and `memeval score`, read by every consumer through `memeval.runfolder`.

A run's results are a pure function of its predictions and judge verdicts: provenance and cost
stay in the manifest, so `memeval score` reproduces this file byte for byte.
Format 1 (memeval 0.1, an untyped dict) is not read; `memeval score RUN` rewrites it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memeval.contracts.metrics import MetricSpec

RESULTS_FORMAT = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Estimate(_Model):
    """One estimator of one metric (a `memeval.stats.Summary`). `method` reads
    "<estimator>(<all|valid>)/<t|bootstrap|none>" and names the headline CI."""

    n: int
    n_clusters: int
    mean: float | None
    se: float | None = None
    ci_t: tuple[float, float] | None = None
    ci_boot: tuple[float, float] | None = None
    df: int | None = None
    level: float = 0.95
    method: str = ""
    seed: int | None = None
    n_invalid: int = 0

    @property
    def ci(self) -> tuple[float, float] | None:
        """The CI the statistics spec headlines: bootstrap below 30 clusters or for non-means."""
        return self.ci_boot if self.method.endswith("/bootstrap") else self.ci_t

    @property
    def ci_kind(self) -> str:
        return self.method.rsplit("/", 1)[-1] if "/" in self.method else ""


class Block(_Model):
    """A metric overall or in one stratum: "(all)" counts invalid items as 0, "(valid)" drops
    them. `labels` names the stratum value per naming convention (e.g. LoCoMo categories)."""

    all: Estimate
    valid: Estimate
    n_invalid: int = 0
    labels: dict[str, str] = Field(default_factory=dict)

    def label(self, value: str, convention: str | None = None) -> str:
        name = self.labels.get(convention or "", None) or next(iter(self.labels.values()), None)
        return f"{value} {name}" if name and name != value else value


class MetricEntry(_Model):
    spec: MetricSpec
    overall: Block | None = None
    strata: dict[str, dict[str, Block]] = Field(default_factory=dict)  # key -> value -> block

    def blocks(self) -> Iterator[tuple[str, str, Block]]:
        """(stratum key, stratum value, block): "overall" first, then every stratum."""
        if self.overall is not None:
            yield "overall", "overall", self.overall
        for key, by in self.strata.items():
            for value, block in by.items():
                yield key, value, block

    def block(self, stratum: dict[str, str] | None = None) -> Block | None:
        if not stratum:
            return self.overall
        ((key, value),) = stratum.items()
        return self.strata.get(key, {}).get(value)


CardField = Literal["timeliness", "refusal", "positional robustness"]


class CardRow(_Model):
    """An evaluation-card row a task fills from one of its metrics (governance.md)."""

    field: CardField
    metric: str
    stratum: dict[str, str] = Field(default_factory=dict)
    note: str


class Results(_Model):
    format: Literal[2] = RESULTS_FORMAT
    task: str
    task_version: str
    clusters: str  # what one cluster is (conversation, user, person...)
    metrics: dict[str, MetricEntry]
    no_items: list[str] = Field(default_factory=list)  # declared, but nothing to aggregate here
    conventions: dict[str, str] = Field(default_factory=dict)  # stratum naming; first = default
    judges: list[str] = Field(default_factory=list)  # identities on the verdicts
    notes: list[str] = Field(default_factory=list)  # the task's own lines for show and report
    card: list[CardRow] = Field(default_factory=list)
    known_defects: str = ""
    plots: list[str] = Field(default_factory=list)  # paths relative to the run folder
    details: dict[str, Any] = Field(default_factory=dict)  # task tables; the core never reads it

    def spec(self, metric: str) -> MetricSpec | None:
        entry = self.metrics.get(metric)
        return entry.spec if entry is not None else None
