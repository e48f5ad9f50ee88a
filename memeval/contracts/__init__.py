"""Every contract between the engine, task packs and systems, in one place.

- tasks: `Task`, `TaskContext`, `OptionSpec`, `Aggregate`
- metrics: `MetricSpec` (direction, unit, estimator, strata, family, pairable)
- results: the typed results file `Results` -> `MetricEntry` -> `Block` -> `Estimate`
- systems: `MemorySystem`, `Capabilities`, `SystemContext`, `LanguageModel`, `TokenScorer`,
  `ContinualLearner`
- training: `Trainable`, `TrainConfig`, `TokenizerLike`
- plan: `PlanCounts`, `PlanContext`, `AddCost`, `SystemCosts` (what `memeval run --plan` counts)

Persisted records (Sample, Prediction, Verdict, Score, ...) are in `memeval.records`.
"""

from memeval.contracts.metrics import Estimator, Family, MetricSpec
from memeval.contracts.plan import (AddCost, CallCount, PlanContext, PlanCounts, SystemCosts,
                                    approx_tokens)
from memeval.contracts.results import (RESULTS_FORMAT, Block, CardRow, Estimate, MetricEntry,
                                       Results)
from memeval.contracts.systems import (SETTINGS, Capabilities, ContinualLearner, LanguageModel,
                                       MemorySystem, Setting, SystemContext, SystemKind,
                                       TokenScorer, TokenScores, provides)
from memeval.contracts.tasks import Aggregate, OptionSpec, Task, TaskContext
from memeval.contracts.training import TokenizerLike, Trainable, TrainConfig

__all__ = ["AddCost", "CallCount", "PlanContext", "PlanCounts", "SystemCosts", "approx_tokens",
           "Aggregate", "Block", "Capabilities", "CardRow", "ContinualLearner", "Estimate",
           "Estimator", "Family", "LanguageModel", "MemorySystem", "MetricEntry", "MetricSpec",
           "OptionSpec", "RESULTS_FORMAT", "Results", "SETTINGS", "Setting", "SystemContext",
           "SystemKind", "Task",
           "TaskContext", "TokenScorer", "TokenScores", "TokenizerLike", "TrainConfig",
           "Trainable", "provides"]
