"""What the HaluMem packs declare to the engine: options, metrics, card rows, data defects
(spec: halumem.md). Every rate is a ratio over judge records, clustered by user."""

from __future__ import annotations

from memeval.contracts import CardRow, MetricSpec, OptionSpec
from memeval.tasks.halumem.schema import DIFFICULTIES, MEMORY_TYPES, QUESTION_TYPES

OPTIONS = (
    OptionSpec(name="data", help="HaluMem JSONL (HaluMem-Medium.jsonl or HaluMem-Long.jsonl)",
               flag="--data"),
    OptionSpec(name="hub", help="medium or long: read the file from the Hugging Face hub "
                                "(online only)"),
    OptionSpec(name="limit_sessions", type="int", flag="--limit-sessions",
               help="first N sessions per user"),
    OptionSpec(name="users", type="int", help="first N users"),
    OptionSpec(name="answer_max_tokens", type="int", default=48,
               help="answer length budget of the harness's answer model"),
    OptionSpec(name="judge_layout", default="shared_prefix",
               choices=("shared_prefix", "memory_first"),
               help="order of the accuracy and integrity judges' prompts: shared_prefix puts "
                    "the session's shared part first (KV-cache reuse); memory_first the item"),
    OptionSpec(name="answerer", default="llm", choices=("llm", "oracle"),
               help="oracle: the gold answer iff all evidence was retrieved (pipeline check)"),
    OptionSpec(name="deleted_memories", default="count", choices=("count", "exclude"),
               help="count (official): every memory an add returns is extracted, DELETE "
                    "events included; exclude: drop what the system reports as deleted"),
)
SYNTH_OPTIONS = tuple(o for o in OPTIONS if o.name != "hub") + (
    OptionSpec(name="size", default="tiny", choices=("tiny", "small", "medium"),
               help="generated users x sessions: tiny 2x3, small 5x8, medium 20x24"),)

_QA = {"strata": ("question_type", "difficulty"),
       "levels": {"question_type": QUESTION_TYPES, "difficulty": DIFFICULTIES}}
METRICS = (
    MetricSpec(name="memory_recall", estimator="ratio",
               description="R: gold points fully covered by the extracted memories (score 2)"),
    MetricSpec(name="weighted_recall", estimator="ratio", pairable=False,
               description="importance-weighted recall, s = score / 2"),
    MetricSpec(name="memory_accuracy", estimator="ratio", family="faithfulness",
               pairable=False, description="mean s over the system's own extracted memories"),
    MetricSpec(name="target_precision", estimator="ratio", family="faithfulness",
               pairable=False, description="mean s over extracted memories within the gold "
                                           "fields (is_included)"),
    MetricSpec(name="fmr", estimator="ratio", family="faithfulness", strata=("extraction",),
               levels={"extraction": ("non-empty", "empty")},
               description="false-memory resistance: distractors not stored (score 0); by "
                           "whether the session extracted anything (empty: scored 0 by rule)"),
    MetricSpec(name="update_correct", estimator="ratio", family="timeliness",
               description="updates stored exactly with the original replaced or outdated"),
    MetricSpec(name="update_hallucination", estimator="ratio", family="faithfulness",
               higher_is_better=False, description="updates stated with factual errors"),
    MetricSpec(name="update_omission", estimator="ratio", family="timeliness",
               higher_is_better=False, description="updates missing or incomplete"),
    MetricSpec(name="update_other", estimator="ratio", family="timeliness",
               higher_is_better=False,
               description="other update failures (e.g. the original still kept as current)"),
    MetricSpec(name="qa_correct", estimator="ratio", **_QA,
               description="answers judged Correct"),
    MetricSpec(name="qa_hallucination", estimator="ratio", family="faithfulness",
               higher_is_better=False, **_QA,
               description="answers with fabricated or contradicting content"),
    MetricSpec(name="qa_omission", estimator="ratio", higher_is_better=False, **_QA,
               description="answers missing needed information without fabrication"),
    MetricSpec(name="typewise_accuracy", estimator="ratio", overall=False,
               strata=("memory_type",), levels={"memory_type": MEMORY_TYPES},
               description="(integrity score 2 + update Correct) / records, per memory type, "
                           "interference excluded"),
    MetricSpec(name="extraction_f1", estimator="custom", pairable=False,
               description="2PR/(P+R) of target precision and memory recall ('all')"),
)

CARD = (
    CardRow(field="timeliness", metric="update_correct",
            note="HaluMem updates: the new value stored and the original replaced or marked "
                 "outdated (freshness)"),
    CardRow(field="refusal", metric="qa_correct", stratum={"question_type": "Memory Boundary"},
            note="Memory Boundary questions: the answer must be 'unknown'"),
)

KNOWN_DEFECTS = ("some gold update points are never said in the dialogue; currency mix-ups "
                 "(upstream issue #5); the official typewise accuracy counts interference "
                 "points, memeval excludes them")
SYNTH_DEFECTS = "none known: generated data, gold true of the dialogue by construction"
