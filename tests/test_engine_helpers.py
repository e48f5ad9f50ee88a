"""Small engine helpers: progress lines inside a group and in logs; the few-clusters warning of
`show`."""

from rich.console import Console
from rich.progress import Progress

from memeval.run_context import RunContext


def test_phase_shows_a_line_until_complete_and_is_a_no_op_without_progress():
    with Progress(console=Console(file=open("/dev/null", "w"))) as prog:
        ctx = RunContext(llm=None, progress=prog)
        advance = ctx.phase("conv-26: adding sessions", 3)
        advance()
        advance()
        (line,) = prog.tasks
        assert (line.description, line.completed, line.total) == \
            ("conv-26: adding sessions", 2, 3)
        advance()
        assert prog.tasks == []  # done: the line goes, the run's own bar stays readable
    RunContext(llm=None).phase("no progress", 2)()  # outside a runner: nothing to show


def test_show_warns_when_rows_rest_on_few_clusters():
    from memeval.aggregate import summarize_metrics
    from memeval.contracts import MetricSpec, Results
    from memeval.records import Score
    from memeval.show import cluster_note, metric_rows

    def rows(n_clusters: int) -> list[list[str]]:
        scores = [Score(sample_id=f"s{i}", cluster=f"c{i % n_clusters}", metric="acc",
                        value=float(i % 2)) for i in range(12)]
        metrics = summarize_metrics([MetricSpec(name="acc")], scores)
        return metric_rows(Results(task="t", task_version="1", clusters="c", metrics=metrics))

    assert "one cluster only" in (cluster_note(rows(1)) or "")
    assert "only 3 clusters" in (cluster_note(rows(3)) or "")
    assert cluster_note(rows(6)) is None


def test_progress_in_a_log_is_timestamped_lines_not_a_silent_bar():
    import io
    import re

    from memeval.progress import LineProgress, progress

    log = io.StringIO()
    console = Console(file=log, width=200)  # a file: not a terminal, as under nohup or CI
    prog = progress(console)
    assert isinstance(prog, LineProgress)
    with prog:
        tid = prog.add_task("conv-26: adding sessions", total=3)
        prog.advance(tid)  # within the interval: no line
        prog.every_s = 0.0
        prog.advance(tid)
        prog.advance(tid)
        prog.remove_task(tid)
        prog.advance(tid)  # a removed task is ignored
    lines = log.getvalue().splitlines()
    assert [re.sub(r"^\d\d:\d\d:\d\d ", "", ln).split(" (")[0] for ln in lines] == [
        "conv-26: adding sessions: 0/3", "conv-26: adding sessions: 2/3",
        "conv-26: adding sessions: 3/3"]
    assert "left)" in lines[1] and "left" not in lines[2]


def test_progress_eta_follows_the_recent_pace_not_a_replayed_head(monkeypatch):
    """A resumed run replays its first steps from the response cache in seconds; an ETA over the
    whole elapsed time would then promise minutes when an hour is left."""
    import io

    import memeval.progress as mp

    clock = [1000.0]
    monkeypatch.setattr(mp.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    prog = mp.LineProgress(Console(file=log, width=200), every_s=0.0)
    tid = prog.add_task("conv-26: adding sessions", total=20)
    for _ in range(10):  # replayed: 1 s each
        clock[0] += 1.0
        prog.advance(tid)
    for _ in range(mp.PACE_STEPS):  # live: 300 s each
        clock[0] += 300.0
        prog.advance(tid)
    last = log.getvalue().splitlines()[-1]
    assert last.endswith(f"13/20 (15:10, ~{7 * 300 // 60}:00 left)"), last


def test_a_resumed_run_marks_each_earlier_write_replayed_once(tmp_path):
    """Rebuilding a store repeats what earlier stretches logged (marked `replayed`); a write of
    the same text beyond those, or in another namespace, is first-hand."""
    from memeval.audit import AuditLog, read_events
    from memeval.run_context import RunContext, logged_memory_events
    from memeval.records import Memory

    path = tmp_path / "audit.jsonl"
    with AuditLog(path, secrets=[]) as log:  # the first stretch, killed after one write
        RunContext(llm=None, audit=log, system_name="mem0").log_memories(
            "u1", [Memory(text="likes tea", memory_id="a", event="ADD")])
    with AuditLog(path, secrets=[]) as log:  # the resumed stretch
        ctx = RunContext(llm=None, audit=log, system_name="mem0",
                         earlier_memory_events=logged_memory_events(path))
        ctx.log_memories("u1", [Memory(text="likes tea", memory_id="b", event="ADD")])  # rebuilt
        ctx.log_memories("u1", [Memory(text="likes tea", memory_id="c", event="ADD")])  # new
        ctx.log_memories("u2", [Memory(text="likes tea", memory_id="d", event="ADD")])
    marks = [(e.payload["memory_id"], e.payload.get("replayed", False)) for e in read_events(path)]
    assert marks == [("a", False), ("b", True), ("c", False), ("d", False)]
