"""`memeval run --plan`: counts from the packs' protocols and the systems' declarations, checked
against hand counts of the real data and against a real run's ledger; planning itself makes no
call of the run (no run folder, no cache entry)."""

import json

import pytest

from helpers import memeval
from memeval.plan import JobPlan, count_job
from memeval.plan_eta import Speed, render, warn_hours
from memeval.runner import JobSpec
from shared_data import HALUMEM_USER, LOCOMO, shared_path


def user_sessions() -> list[dict]:
    with shared_path(HALUMEM_USER).open(encoding="utf-8") as f:
        return json.loads(f.readline())["sessions"]


def test_halumem_rag_counts_match_a_hand_count_of_the_data():
    sessions = user_sessions()[:3]  # none of them is a generated distractor session
    job = JobSpec(task="halumem", system="rag-bm25", judge="llm", limit=None,
                  task_options={"data": str(shared_path(HALUMEM_USER)), "limit_sessions": 3})
    c = count_job(job)
    turns = sum(len(s["dialogue"]) for s in sessions)
    points = sum(len(s["memory_points"]) for s in sessions)
    questions = sum(len(s.get("questions", [])) for s in sessions)
    updates = sum(p["is_update"] == "True" and bool(p.get("original_memories"))
                  for s in sessions for p in s["memory_points"])
    assert (c.samples, c.clusters, c.adds) == (3, 1, 3)
    assert c.searches == questions + updates
    assert c.calls["answerer"].calls == questions
    # rag-bm25 reports every turn as a memory: one accuracy call each; every point is judged
    # by integrity or (an update whose search found something) by the update judge
    assert c.calls["judge"].calls == turns + points + questions
    assert c.calls.get("system:rag-bm25") is None or c.calls["system:rag-bm25"].calls == 0


def test_exact_judge_and_oracle_answerer_plan_no_llm_call():
    job = JobSpec(task="halumem", system="rag-bm25", judge="exact",
                  task_options={"data": str(shared_path(HALUMEM_USER)), "limit_sessions": 2,
                                "answerer": "oracle"})
    c = count_job(job)
    assert sum(cc.calls for cc in c.calls.values()) == 0 and c.samples == 2


def test_amem_declares_two_calls_per_user_turn_but_the_first():
    sessions = user_sessions()[:2]
    job = JobSpec(task="halumem", system="amem", judge="llm",
                  task_options={"data": str(shared_path(HALUMEM_USER)), "limit_sessions": 2})
    c = count_job(job)
    user_turns = sum(m["role"] == "user" for s in sessions for m in s["dialogue"])
    # analyze_content per note; evolution per note once the namespace holds one
    assert c.calls["system:amem"].calls == 2 * user_turns - 1


def test_locomo_counts_questions_sessions_and_per_speaker_namespaces():
    data = json.loads(shared_path(LOCOMO).read_text(encoding="utf-8"))
    conv = data[0]["conversation"]
    sessions = [k for k in conv if k.startswith("session_") and not k.endswith("date_time")
                and conv[k]]
    job = JobSpec(task="locomo", system="rag-bm25", judge="llm", limit=20,
                  task_options={"data": str(shared_path(LOCOMO))})
    c = count_job(job)
    qa = data[0]["qa"][:20]
    judged = sum(q["category"] in (1, 2, 3, 4) and q.get("answer") is not None for q in qa)
    assert (c.samples, c.clusters, c.adds, c.searches) == (20, 1, len(sessions), 20)
    assert c.calls["answerer"].calls == 20 and c.calls["judge"].calls == judged


def test_hours_of_work_on_the_embedded_model_warn_and_name_the_limits(capsys):
    from memeval.commands.common import IO
    from rich.console import Console

    job = JobSpec(task="halumem", system="amem", judge="llm",
                  task_options={"data": str(shared_path(HALUMEM_USER))})
    plan = JobPlan(job=job, counts=count_job(job), planned={})
    # speeds of the order measured for SmolLM2-135M on 2 cores; the plan's size makes hours
    speed = Speed(overhead_s=0.05, prompt_tok_per_s=400.0, gen_s_per_token=0.02,
                  token_scale=1.0, parallel=1)
    io = IO(out=Console(width=200), err=Console(stderr=True, width=200))
    total = render(io, [plan], speed, None)
    warn_hours(io, [plan], total, embedded=True)
    err = capsys.readouterr().err
    assert total > 3600 and "embedded SmolLM2" in err
    assert "--limit N" in err and "--limit-sessions N" in err


@pytest.mark.slow
def test_plan_makes_no_call_and_matches_a_real_runs_ledger(tmp_path, llm_spec):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    env = {"MEMEVAL_RUNS": str(runs), "MEMEVAL_CACHE_DIR": str(cache)}
    args = ["run", "--suite", "halumem", "--data", str(shared_path(HALUMEM_USER)),
            "--system", "rag-bm25:chunk=4", "--limit-sessions", "1", "--llm", llm_spec]
    planned = tmp_path / "plan.json"
    proc = memeval(*args, "--plan", str(planned), env=env)
    assert not runs.exists() or not any(runs.iterdir())  # no run folder
    assert not (cache / "responses.sqlite").exists()  # no cached (= no run) LLM call
    assert "ETA: ~" in proc.stdout and "samples" in proc.stdout
    plan = json.loads(planned.read_text())["jobs"][0]
    assert plan["calibrated_by"] == []  # nothing earlier: the declarations alone

    memeval(*args, env=env)
    (folder,) = list(runs.iterdir())
    cost = json.loads((folder / "manifest.json").read_text())["cost"]
    for caller in ("answerer", "judge"):
        got, want = plan["calls"][caller]["calls"], cost[caller]["calls"]
        assert abs(got - want) <= 0.10 * want, (caller, got, want)
    assert "system:rag-bm25" not in cost  # it calls no LLM, as declared
    s0 = user_sessions()[0]
    chunks = -(-len(s0["dialogue"]) // 4)  # 4-turn chunks: one accuracy call per chunk
    assert plan["declared_calls"]["judge"]["calls"] == (chunks + len(s0["memory_points"])
                                                       + len(s0["questions"]))

    # a second plan is calibrated by that run's ledger (judge retries included); with the
    # endpoint down it still counts, and says why it has no ETA
    again = tmp_path / "again.json"
    down = [a if a != llm_spec else "http://127.0.0.1:9/v1::none" for a in args]
    proc = memeval(*down, "--retries", "0", "--plan", str(again), env=env)
    assert "ETA: not measured" in proc.stdout
    plan2 = json.loads(again.read_text())["jobs"][0]
    assert plan2["calibrated_by"] == [folder.name]
    assert abs(plan2["calls"]["judge"]["calls"] - cost["judge"]["calls"]) < 0.5


def _earlier_run(root, job, cost, resumed=False):
    from memeval.records import RunManifest

    folder = root / "earlier"
    folder.mkdir(parents=True)
    m = RunManifest(run_id="earlier", command=["memeval"], config=job.config(None),
                    config_sha256="-", task={}, system={}, llm={}, seed=0, git={}, packages={},
                    machine={}, status="complete", counts={"errors": 0}, cost=cost)
    (folder / "manifest.json").write_text(m.model_dump_json(), encoding="utf-8")
    kinds = ["run.start"] + (["run.resume"] if resumed else []) + ["run.end"]
    (folder / "audit.jsonl").write_text("".join(json.dumps({"kind": k}) + "\n" for k in kinds))


@pytest.mark.parametrize("resumed", [False, True])
def test_an_earlier_runs_ledger_calibrates_the_plan_unless_it_was_resumed(tmp_path, resumed):
    from memeval.plan import plan_job

    sessions = user_sessions()[:2]
    hand = [len(s["dialogue"]) + len(s["memory_points"]) + len(s.get("questions", []))
            for s in sessions]  # judge calls per session, as in the hand count above
    data = str(shared_path(HALUMEM_USER))
    one = JobSpec(task="halumem", system="rag-bm25", judge="llm",
                  task_options={"data": data, "limit_sessions": 1})
    # the earlier one-session run needed 3 judge retries on top of its hand count
    _earlier_run(tmp_path, one, {"judge": {"calls": hand[0] + 3, "cache_hits": 0}},
                 resumed=resumed)
    two = JobSpec(task="halumem", system="rag-bm25", judge="llm",
                  task_options={"data": data, "limit_sessions": 2})
    plan = plan_job(two, [tmp_path], identity=None, cache=None)
    got = plan.counts.calls["judge"].calls
    if resumed:  # its ledger covers only its last invocation: not used
        assert plan.calibrated_by == [] and got == sum(hand)
    else:
        assert plan.calibrated_by == ["earlier"]
        assert got == pytest.approx(sum(hand) * (hand[0] + 3) / hand[0])
