"""The live view fits the terminal it is drawn on: any number of files, down to about 40 columns.

The region is rendered into a console of a fixed size, as rich's Live draws it; the totals line
must be there, whole (its counts and cost uncut), and no line may be wider than the region.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from conftest import make_repo, patch_turn, plan_turn, summary_turn, udiff
from diffcrew.agent import run as run_module
from diffcrew.agent import view as view_module
from diffcrew.agent.config import RunOptions
from diffcrew.agent.events import Event, ModelCalled, Planned, WorkerFinished, WorkerRepairing, WorkerRunning
from diffcrew.agent.livelayout import fold_rows, middle_cut, pack, Segment
from diffcrew.agent.liveview import ECHO_ROOM, PLAN_HINT, LiveView
from diffcrew.agent.llm.scripted import ScriptedClient
from diffcrew.agent.pricing import money
from diffcrew.agent.types import FileEdit, Plan, Usage

LONG = "src/diffcrew_sample/very/deeply/nested/package/with/many/levels/module_{:02d}.py"


def big_plan(files: int = 45) -> Plan:
    return Plan("Touch every module.", tuple(FileEdit(LONG.format(n), "modify", f"Change module {n}.")
                                             for n in range(files)))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def midrun(files: int = 45) -> tuple[list[Event], float]:
    """A run half way: a third done, a few failed and repairing, some running, the rest queued;
    and what it has cost so far."""
    plan = big_plan(files)
    events: list[Event] = [Planned(plan, estimated_cost=0.75)]
    cost = 0.0
    for number, edit in enumerate(plan.edits[: files * 2 // 3]):
        events.append(WorkerRunning(edit.path))
        events.append(ModelCalled("worker", edit.path, "m", Usage(12_000, 900, 0, 0, 1), 0.0123, 1.0))
        cost += 0.0123
        if number < files // 3:
            events.append(WorkerFinished(edit.path, ok=True, attempts=1))
        elif number % 7 == 0:
            events.append(WorkerFinished(edit.path, ok=False, attempts=3, error="no usable patch"))
        elif number % 5 == 0:
            events.append(WorkerRepairing(edit.path, "hunk 2 of 3 matches no place in the file"))
    return events, cost


def region(width: int, height: int, events: list[Event], clock: Clock | None = None) -> tuple[LiveView, list[str]]:
    """The live region as a terminal of `width` x `height` shows it."""
    view = LiveView(Console(file=StringIO(), force_terminal=True, width=width, height=height), clock=clock or Clock())
    for event in events:
        view.board.apply(event)
    out = StringIO()
    Console(file=out, width=width, height=height, color_system=None).print(view.render())
    return view, out.getvalue().rstrip("\n").split("\n")


def totals(lines: list[str]) -> str:
    """The totals: the spinner line and the lines it wraps onto (they start with two spaces)."""
    start = max(i for i, line in enumerate(lines) if not line.startswith("  ") and "call" in line)
    return " ".join(line.strip() for line in lines[start:])


@pytest.mark.parametrize("width,height,files", [(120, 40, 45), (100, 30, 45), (60, 20, 45), (40, 15, 45),
                                                (40, 15, 3), (36, 12, 45)])
def test_the_totals_line_is_whole_and_nothing_is_wider_than_the_terminal(width: int, height: int,
                                                                        files: int) -> None:
    events, cost = midrun(files)
    _, lines = region(width, height, events)
    assert len(lines) < height  # rich's Live would cut the bottom (the totals) of a taller region
    assert max(cell_len(line) for line in lines) <= width - ECHO_ROOM
    line = totals(lines)
    calls = files * 2 // 3
    assert money(cost) in line and re.search(rf"\b{calls} call", line), line
    assert re.search(rf"\b\d+/{files} ", line), line  # workers finished, out of all
    assert "…" not in line


def test_finished_rows_fold_into_one_line_when_the_files_do_not_fit() -> None:
    events, _ = midrun(45)
    view, lines = region(120, 40, events)
    assert "✓ 15 done" in [" ".join(line.split()[:3]) for line in lines]
    assert not any(line.split()[1:3] == [LONG.format(0), "done"] for line in lines if len(line.split()) > 2)
    running = [p for p, r in view.board.rows.items() if r.state in ("running", "repairing")]
    assert all(any(p[-6:] in line for line in lines) for p in running)  # what is under way stays in view
    # a terminal tall enough for every row shows every row, as before
    _, tall = region(120, 60, events)
    assert sum(1 for line in tall if "module_" in line) == 45


def test_a_short_terminal_folds_the_queue_and_the_rest_of_the_running_rows() -> None:
    events, cost = midrun(45)
    _, lines = region(60, 8, events)
    assert len(lines) < 8 and money(cost) in totals(lines)
    words = [" ".join(line.split()[1:3]) for line in lines]
    assert "15 done" in words and "15 queued" in words
    assert any(re.fullmatch(r"\d+ more", w) for w in words) or any("failed" in w for w in words)


def test_file_names_are_cut_in_the_middle() -> None:
    events, _ = midrun(45)
    _, lines = region(60, 60, events)
    row = next(line for line in lines if "_44.py" in line)
    name = row.split()[1]
    assert name.startswith("src/diffcr") and name.endswith("module_44.py") and "…" in name
    assert middle_cut("abcdefghij", 10) == "abcdefghij" and middle_cut("abcdefghijk", 10) == "abc…fghijk"


def test_the_barest_totals_wrap_instead_of_being_cut() -> None:
    segments = [Segment(("workers 12/45 finished", "12/45 done")), Segment(("1234 call(s)",)),
                Segment(("$12.3456",))]
    assert pack(segments, 80, "⠙ ") == ["⠙ workers 12/45 finished · 1234 call(s) · $12.3456"]
    assert pack(segments, 40, "⠙ ") == ["⠙ 12/45 done · 1234 call(s) · $12.3456"]
    assert pack(segments, 30, "⠙ ") == ["⠙ 12/45 done · 1234 call(s) ·", "  $12.3456"]
    assert pack(segments, 20, "⠙ ") == ["⠙ 12/45 done ·", "  1234 call(s) ·", "  $12.3456"]
    assert fold_rows({"a": "done", "b": "running", "c": "queued"}, 3).folded == ()
    assert fold_rows({"a": "done", "b": "done", "c": "running", "d": "queued"}, 3).folded == (("done", 2),)


def test_the_final_table_keeps_every_row_and_fits_the_width() -> None:
    events, cost = midrun(45)
    buffer = StringIO()
    view = LiveView(Console(file=buffer, force_terminal=True, width=40, height=15, color_system=None), clock=Clock())
    for event in events:
        view.board.apply(event)
    view.close()
    lines = buffer.getvalue().rstrip("\n").split("\n")
    assert [n for n in range(45) if any(f"_{n:02d}.py" in line for line in lines)] == list(range(45))
    assert max(cell_len(line) for line in lines) <= 40 - ECHO_ROOM
    assert money(cost) in totals(lines) and totals(lines).startswith("total: 30 call")


# The go-ahead: the whole plan can be read before answering, and the wait is not the run's time.

WORDY = ("Replace every call of the old helper with the new one, keep the public names, and add a test "
         "for the empty case; the docstring says why the old helper goes. " * 3).strip()


def wordy_plan(files: int) -> Plan:
    return Plan("Swap the helper.", tuple(FileEdit(f"pkg/m{n}.py", "modify", WORDY) for n in range(files)))


def test_the_prompt_shows_the_whole_plan_on_v_then_asks_again() -> None:
    plan = wordy_plan(2)
    runner = CliRunner()
    with runner.isolation(input="v\n?\ny\n") as (_, err, _):
        assert view_module._ask_on_stderr("Start 2 worker(s)?", plan) is True
        said = click.unstyle(err.getvalue().decode())
    assert said.count("Start 2 worker(s)? [Y/n/v]") == 3
    assert " ".join(said.split()).count(" ".join(WORDY.split())) == 2  # every word of each file's instructions
    assert view_module.ANSWERS in said
    with runner.isolation(input="n\n"):
        assert view_module._ask_on_stderr("Start 2 worker(s)?", plan) is False
    with runner.isolation(input="\n"):  # Enter: the default, yes
        assert view_module._ask_on_stderr("Start 2 worker(s)?", plan) is True


def test_the_live_view_prints_the_whole_plan_when_it_fits_and_says_how_to_see_it_when_not() -> None:
    for files, whole in ((2, True), (30, False)):
        buffer = StringIO()
        view = LiveView(Console(file=buffer, width=100, height=40, color_system=None),
                        prompt=lambda question, plan: True)
        plan = wordy_plan(files)
        view.emit(Planned(plan, estimated_cost=0.01))
        view.close()
        text = " ".join(buffer.getvalue().split())
        assert (" ".join(WORDY.split()) in text) is whole
        assert (" ".join(PLAN_HINT.split()) in text) is not whole


def test_the_wait_at_the_prompt_is_not_counted_in_the_elapsed_time() -> None:
    clock = Clock()

    def slow_answer(question: str, plan: Plan) -> bool:
        clock.now += 500  # the user reads the plan for a while
        return True

    view = LiveView(Console(file=StringIO(), width=100, color_system=None), prompt=slow_answer, clock=clock)
    view.emit(Planned(big_plan(3), estimated_cost=0.01))
    clock.now += 2
    assert view.confirm(big_plan(3)) is True
    clock.now += 3
    assert view.board.elapsed() == 5
    _, lines = region(100, 30, [])
    out = StringIO()
    Console(file=out, width=100, color_system=None).print(view.render())
    assert out.getvalue().rstrip().endswith("· 5.0 s")
    view.close()


def test_the_reports_duration_leaves_out_the_wait_at_the_prompt(tmp_path: Path, monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr(run_module.time, "monotonic", lambda: now[0])
    repo = make_repo(tmp_path / "repo", {"a.py": "a = 1\n"})

    class Asking:
        def emit(self, event: Event) -> None:
            now[0] += 0.5

        def confirm(self, plan: Plan) -> bool:
            now[0] += 1000
            return True

    script = {"orchestrator": [plan_turn("Change a.", [("a.py", "modify", "Set a to 2.")])],
              "worker:a.py": [patch_turn(udiff("a.py", "a = 1\n", "a = 2\n"))],
              "synthesizer": [summary_turn("Set a to 2")]}
    options = RunOptions(request="set a to 2", repo=repo, review_rounds=0)
    report = run_module.run_change(options, Asking(), lambda: ScriptedClient(script))
    assert report.status == "ok", report.errors
    assert 0 < report.duration_s < 1000


def test_on_a_narrow_terminal_the_whole_plan_puts_the_instructions_under_each_path() -> None:
    plan = Plan("Swap the helper.", tuple(FileEdit(LONG.format(n), "modify", WORDY) for n in range(2)))
    buffer = StringIO()
    view = LiveView(Console(file=buffer, width=40, height=60, color_system=None), prompt=lambda question, plan: True)
    view.emit(Planned(plan, estimated_cost=0.01))
    view.close()
    lines = buffer.getvalue().splitlines()
    assert max(cell_len(line) for line in lines) <= 40
    assert " ".join(buffer.getvalue().split()).count(" ".join(WORDY.split())) == 2
    assert sum(1 for line in lines if line.startswith("         Replace every call")) == 2  # under each path
    assert PLAN_HINT.strip() not in buffer.getvalue()
