"""LoCoMo answer-key errata (independent audit, github dial481/locomo-audit): every entry
resolves in the real file; the per-category ceilings, the clean subset and the corrected-answer
variant come out as the audit reports them (its published figures, not ours)."""

from __future__ import annotations

from collections import Counter

import pytest

from memeval.records import Prediction
from memeval.tasks.locomo import errata
from memeval.tasks.locomo.task import LoCoMoTask
from shared_data import LOCOMO, shared_path


def test_every_entry_resolves_in_the_real_file() -> None:
    info, entries = errata.load_errata()
    task = LoCoMoTask(data=str(shared_path(LOCOMO)))
    assert len(task.errata) == len(entries) == 156 and not task.errata_unmatched
    assert info["license"] == "CC BY-NC 4.0" and "dial481/locomo-audit" in info["source"]
    # the audit's counts: 99 score-corrupting by type, 57 citation-only
    kinds = Counter(e.error_type for e in entries if e.score_corrupting)
    assert kinds == {"HALLUCINATION": 33, "TEMPORAL_ERROR": 26, "ATTRIBUTION_ERROR": 24,
                     "AMBIGUOUS": 13, "INCOMPLETE": 3}
    assert sum(not e.score_corrupting for e in entries) == 57
    for (conv, idx), e in task.errata.items():  # matched by text: the same question
        assert task.conversations[conv].qa[idx].question == e.question
        assert task.conversations[conv].qa[idx].category == e.category in (1, 2, 3, 4)


def _echo_gold(task: LoCoMoTask, pick: str = "answer") -> list[Prediction]:
    """Predictions that repeat an answer of the key, as a perfect system would."""
    return [Prediction(sample_id=s.sample_id, cluster=s.cluster, task="locomo", system="echo",
                       output=str(s.reference[pick]), reference={**s.reference,
                                                                  "question": s.input["question"]})
            for s in task.samples()]


def _results(task: LoCoMoTask, preds: list[Prediction]):
    scores = sorted((s for p in preds for s in task.score(p, [])),
                    key=lambda s: (s.sample_id, s.metric))
    return task.aggregate(scores, preds, None)


def test_ceilings_are_the_audits() -> None:
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), categories="1,2,3,4")
    agg = _results(task, _echo_gold(task))
    ceil = agg.metrics["gold_ceiling"]
    # audit README: per category 90.1 / 91.9 / 90.6 / 95.7 (data numbering), 93.6 overall
    by = {k: round(100 * b.all.mean, 1) for k, b in ceil.strata["category"].items()}
    assert by == {"1": 90.1, "2": 91.9, "3": 90.6, "4": 95.7}
    assert round(100 * ceil.overall.all.mean, 2) == 93.57 and ceil.overall.all.n == 1540
    assert ceil.overall.all.ci is not None  # with its CI (10 conversations)
    f1 = agg.metrics["f1_official"]
    assert f1.strata["gold"]["erratum"].all.n == 99  # the clean subset excludes exactly these
    assert f1.strata["gold"]["clean"].all.n == 1540 - 99
    assert any(n.startswith("gold ceiling") and "93.57" in n for n in agg.notes)
    assert any(n.startswith("clean subset (99 errata items excluded)") for n in agg.notes)


def _f1(task: LoCoMoTask, sid: str, output: str) -> float:
    s = next(s for s in task.samples() if s.sample_id == sid)
    pred = Prediction(sample_id=sid, cluster=s.cluster, task="locomo", system="x", output=output,
                      reference={**s.reference, "question": s.input["question"]})
    return next(x.value for x in task.score(pred, []) if x.metric == "f1_official")


def test_corrected_answers_variant() -> None:
    official = LoCoMoTask(data=str(shared_path(LOCOMO)), categories="1,2,3,4")
    corrected = LoCoMoTask(data=str(shared_path(LOCOMO)), categories="1,2,3,4",
                           answers="corrected")
    (conv, idx), e = next((k, e) for k, e in official.errata.items()
                          if e.score_corrupting and e.category == 4)
    sid = f"{conv}/q{idx:04d}"
    s_off, s_cor = (next(s for s in t.samples() if s.sample_id == sid)
                    for t in (official, corrected))
    assert s_off.reference["gold"] == s_cor.reference["gold"] == "erratum"
    assert s_cor.reference["answer"] == e.corrected_answer != s_off.reference["answer"]
    assert s_cor.reference["official_answer"] == s_off.reference["answer"]
    # an answer saying what the audit found scores 1 against the corrected key only
    assert _f1(corrected, sid, e.corrected_answer) == 1.0
    assert _f1(official, sid, e.corrected_answer) < 1.0
    agg = _results(corrected, _echo_gold(corrected))
    assert agg.metrics["gold_ceiling"].overall.all.mean == 1.0  # every gold fixed


def test_category_5_is_outside_the_audit() -> None:
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), categories="5", limit=10)
    agg = _results(task, _echo_gold(task, "adversarial_answer"))
    assert "gold_ceiling" not in agg.metrics  # the audit covers categories 1-4 only
    assert {s.reference["gold"] for s in task.samples()} == {"clean"}


@pytest.mark.parametrize("answers", ["official", "corrected"])
def test_the_option_is_recorded(answers: str) -> None:
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), answers=answers, limit=1)
    assert task.config()["answers"] == answers
    assert task.data_info()["errata"]["matched"] == 156
