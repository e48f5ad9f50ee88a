"""RunContext helpers: progress lines for long steps inside a group."""

from rich.console import Console
from rich.progress import Progress

from memeval.context import RunContext


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
