"""The loader on the real LoCoMo file: every documented quirk, counted."""

import json
from collections import Counter

import pytest

from memeval.errors import UserError
from memeval.fileio import sha256_file
from memeval.tasks.locomo import loader
from memeval.tasks.locomo.task import LoCoMoTask
from shared_data import LOCOMO, shared_path


@pytest.fixture(scope="module")
def convs():
    return loader.load(shared_path(LOCOMO))


def test_counts_match_the_data_card(convs):
    assert [c.sample_id for c in convs][:2] == ["conv-26", "conv-30"]
    assert len(convs) == 10
    assert sum(len(c.sessions) for c in convs) == 272
    assert sum(c.n_turns for c in convs) == 5882
    qa = [q for c in convs for q in c.qa]
    assert len(qa) == 1986
    assert Counter(q.category for q in qa) == {1: 282, 2: 321, 3: 96, 4: 841, 5: 446}


def test_conv26_sessions_keyed_on_turn_lists(convs):
    conv26 = convs[0]
    raw = json.loads(shared_path(LOCOMO).read_text())[0]["conversation"]
    assert "session_20_date_time" in raw and "session_20" not in raw
    assert len(conv26.sessions) == 19
    assert conv26.sessions[0].timestamp == "1:56 pm on 8 May, 2023"


def test_category5_answers_ints_and_evidence_quirks(convs):
    qa = [q for c in convs for q in c.qa]
    cat5 = [q for q in qa if q.category == 5]
    assert sum(q.answer is None for q in cat5) == 444
    assert all(q.adversarial_answer for q in cat5)
    raw = [q for item in json.loads(shared_path(LOCOMO).read_text()) for q in item["qa"]]
    assert sum(isinstance(q.get("answer"), int) for q in raw) == 6
    bad = [e for q in qa for e in q.bad_evidence]
    assert "D30:05" in bad
    # six malformed strings + the dangling id (some items cite it more than once)
    assert {"D", "D:11:26", "D8:6; D9:17"} <= set(bad)


def test_image_turns_render_caption(convs):
    raw = json.loads(shared_path(LOCOMO).read_text())[0]["conversation"]
    img = next(t for s in range(1, 20) for t in raw.get(f"session_{s}", []) if "blip_caption" in t)
    turn = next(t for s in convs[0].sessions for t in s.turns if t.turn_id == img["dia_id"])
    assert turn.text == f"{img['text']} and shared {img['blip_caption']}"


def test_malformed_file_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('[\n {"sample_id": "x",\n  "qa": [}\n]\n')
    with pytest.raises(UserError, match=r"broken.json line 3"):
        loader.load(bad)


def test_missing_field_is_a_user_error(tmp_path):
    bad = tmp_path / "nofield.json"
    bad.write_text(json.dumps([{"sample_id": "c1", "conversation": {"speaker_a": "A"}, "qa": []}]))
    with pytest.raises(UserError, match=r"conversation #0 \(c1\): conversation.speaker_b: "
                                        "Field required"):
        loader.load(bad)


def test_defect_report_names_the_audits_malformed_evidence_ids():
    report = "\n".join(loader.defect_report(loader.load(shared_path(LOCOMO))))
    # the ids the independent audit (dial481/locomo-audit) names, found in the real file
    for bad in ("'D8:6; D9:17' malformed", "'D' malformed", "'D4:36' dangling",
                "'D30:05' dangling"):
        assert bad in report, bad
    assert report.count("\n") + 1 == 9


def test_samples_have_stable_ids_clusters_and_limit():
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), limit=5)
    ids = [s.sample_id for s in task.samples()]
    assert ids == [f"conv-26/q000{i}" for i in range(5)]
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), categories="5")
    samples = list(task.samples())
    assert len(samples) == 446 and {s.cluster for s in samples} == {c.sample_id for c in loader.load(shared_path(LOCOMO))}


def test_bundled_copy_is_byte_identical():
    assert sha256_file(loader.bundled_path()) == loader.EXPECTED_SHA256
    assert sha256_file(shared_path(LOCOMO)) == loader.EXPECTED_SHA256


def test_the_demo_draws_across_conversations_and_categories():
    """The demo suite: a seeded, category-stratified draw over all ten conversations (so its
    CIs and paired test have clusters), the same questions for every system."""
    from collections import Counter

    from memeval import suite as suites

    demo = suites.load("demo")
    assert demo.compare and "cannot show" in demo.epilogue
    task = LoCoMoTask(data=str(shared_path(LOCOMO)), **demo.tasks[0].options)
    drawn = list(task.samples())
    assert len(drawn) == 40
    assert set(Counter(s.input["category"] for s in drawn).values()) == {8}
    assert len({s.cluster for s in drawn}) >= 8
    again = LoCoMoTask(data=str(shared_path(LOCOMO)), **demo.tasks[0].options)
    assert [s.sample_id for s in again.samples()] == [s.sample_id for s in drawn]
    other_seed = LoCoMoTask(data=str(shared_path(LOCOMO)), seed=1, **demo.tasks[0].options)
    assert [s.sample_id for s in other_seed.samples()] != [s.sample_id for s in drawn]
