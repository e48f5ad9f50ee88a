"""What the LoCoMo pack declares to the engine: options, metrics, evaluation-card rows, data
defects (spec: locomo.md)."""

from __future__ import annotations

from memeval.contracts import CardRow, MetricSpec, OptionSpec

LICENSE = "CC BY-NC 4.0"
CONVENTIONS = {"data": "data (official LoCoMo numbering)", "mem0": "Mem0 paper labels"}

OPTIONS = (
    OptionSpec(name="data", help="locomo10.json-format file (default: the bundled copy)",
               flag="--data"),
    OptionSpec(name="k", type="int", default=10, help="memories retrieved per speaker namespace"),
    OptionSpec(name="categories", help="categories to ask, e.g. 1;2;3;4 (default all five)"),
    OptionSpec(name="sample", type="int",
               help="ask N questions drawn across all conversations, stratified by category "
                    "(equal shares), seeded by the run seed (default: every question)"),
    OptionSpec(name="judge_categories", default="1,2,3,4",
               help="categories the LLM judge scores (J is defined on 1-4)"),
    OptionSpec(name="judge_runs", type="int", default=1,
               help="judge runs per answer (agreement is reported when > 1)"),
    OptionSpec(name="leniency", type="bool", default=False,
               help="also judge deliberately vague wrong answers (judge_leniency)"),
    OptionSpec(name="answer_max_tokens", type="int", default=32,
               help="answer length budget of the harness's answer model"),
    OptionSpec(name="answers", default="official", choices=("official", "corrected"),
               help="gold answers: the official key, or with the audit's corrections of the "
                    "99 score-corrupting errata (data_cards/locomo.md)"),
)

# "gold": clean (no known error) or erratum (the audit found the gold answer wrong): the
# clean-subset estimate of every metric is its gold=clean stratum.
_BY_CATEGORY = {"strata": ("category", "gold"), "levels": {"gold": ("clean", "erratum")}}
METRICS = (
    MetricSpec(name="f1_official", **_BY_CATEGORY,
               description="the official per-question score (token F1; category 5: refusal)"),
    MetricSpec(name="f1_set", **_BY_CATEGORY,
               description="set-based token F1 without stemming (A-Mem/Mem0 harnesses)"),
    MetricSpec(name="bleu1", **_BY_CATEGORY, description="BLEU-1 with smoothing (NLTK)"),
    MetricSpec(name="llm_judge", **_BY_CATEGORY, judged=True,
               description="J: share of answers an LLM judge labels CORRECT"),
    MetricSpec(name="gold_ceiling", strata=("category",), family="reference", pairable=False,
               description="share of the asked category 1-4 questions whose gold answer is "
                           "right (audit): a judge that checks against the key cannot credit a "
                           "correct answer on the rest"),
    MetricSpec(name="judge_leniency", **_BY_CATEGORY, judged=True, family="judge",
               higher_is_better=False, pairable=False,
               description="share of deliberately vague wrong answers the judge accepted "
                           "(a property of the judge, the same for every system)"),
)

CARD = (
    CardRow(field="refusal", metric="f1_official", stratum={"category": "5"},
            note="LoCoMo category 5 (adversarial): share of answers that refuse "
                 "('not mentioned'), official scorer"),
    CardRow(field="timeliness", metric="f1_official", stratum={"category": "2"},
            note="proxy only: LoCoMo category 2 (temporal reasoning); freshness and "
                 "outdated-answer rates are not measured by this pack"),
)

KNOWN_DEFECTS = ("an independent audit (github dial481/locomo-audit) lists 156 issues in the "
                 "1,540 category 1-4 questions: 99 wrong gold answers (scored against by "
                 "f1/J; see gold_ceiling and the gold=clean estimates) and 57 wrong citations; "
                 "444 of 446 category-5 items have no gold answer; malformed and dangling "
                 "evidence ids (the loader's defect report); conv-26 has session dates without "
                 "turns (data_cards/locomo.md)")
