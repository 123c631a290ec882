"""The views of a run: plain lines off a terminal, a rich live display on one, -q and -v.

The live view is driven with events into a rich Console writing to a StringIO, and end to end
under a pseudo-terminal (the real console script against the loopback fake server).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import tempfile
import termios
import time
from io import StringIO
from pathlib import Path
from typing import Any, get_args

import click
import pytest
from rich.console import Console

from conftest import make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff
from diffcrew.agent.config import RunOptions
from diffcrew.agent.events import (ChecksDone, ChecksRunning, ContextRead, Event, Explored, ModelCalled, ModelRetrying,
                                   Planned, Warned, WorkerFinished, WorkerRepairing, WorkerRunning)
from diffcrew.agent.liveview import ECHO_ROOM, Board, LiveView
from diffcrew.agent.llm.protocol import ModelReply, ModelRequest, TransientModelError
from diffcrew.agent.llm.scripted import ScriptedClient
from diffcrew.agent.run import run_change
from diffcrew.agent.types import FileEdit, Plan, Usage
from diffcrew.agent.view import PlainView, QuietView, check_line, choose_view, colour_diffstat
from diffcrew.sandbox import CheckResult

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAN = Plan("Type the helpers and drop the old module.", (
    FileEdit("pkg/a.py", "modify", "Add type hints\n  to a."),
    FileEdit("pkg/b.py", "create", "Create b."),
    FileEdit("old.py", "delete", "Unused.")))


def usage(role: str, path: str | None, tokens_in: int, tokens_out: int, cost: float | None,
          cached: int = 0) -> ModelCalled:
    return ModelCalled(role, path, "m", Usage(tokens_in, tokens_out, cached, 0, 1), cost, 0.25)


def check(name: str, status: str, new_failure: bool = False, output: str = "") -> CheckResult:
    return CheckResult(name, status, new_failure, 0.5, output, (), None)


def screen(raw: str) -> list[str]:
    """What a terminal keeps of each written line: escape codes dropped, the text after the last \\r."""
    lines = []
    for line in ANSI.sub("", raw).split("\n"):
        parts = [part for part in line.split("\r") if part.strip()]
        lines.append(parts[-1].rstrip() if parts else "")
    return lines


def final_block(raw: str) -> list[str]:
    """The table the live view leaves on screen when it closes (header line to the totals line)."""
    lines = screen(raw)
    end = max(i for i, line in enumerate(lines) if line.startswith("total: "))
    start = max(i for i in range(end) if "tokens in/out" in lines[i])
    return lines[start:end + 1]


def rendered(view: LiveView, width: int = 110) -> list[str]:
    text = StringIO()
    Console(file=text, width=width, color_system=None).print(view.render())
    return [line.rstrip() for line in text.getvalue().splitlines()]


def row(lines: list[str], path: str) -> str:
    (line,) = [line for line in lines if f" {path} " in line]
    return line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


EVENTS: list[Event] = [
    ContextRead(files=4, tokens=900),
    Explored("read_file", {"path": "pkg/a.py"}),
    usage("orchestrator", None, 2000, 300, 0.007),
    Planned(PLAN, estimated_cost=0.0123),
    WorkerRunning("pkg/a.py"),
    WorkerRunning("pkg/b.py"),
    usage("worker", "pkg/a.py", 1000, 100, 0.0031, cached=200),
    WorkerRepairing("pkg/a.py", "hunk 1 of 1 matches no place in the file"),
    ModelRetrying("worker", "pkg/b.py", "m", 1, "the model service answered HTTP 429: slow down"),
    usage("worker", "pkg/b.py", 800, 50, 0.002),
    WorkerFinished("pkg/b.py", ok=True, attempts=1),
    usage("worker", "pkg/a.py", 1300, 120, 0.004),
    WorkerFinished("pkg/a.py", ok=True, attempts=2),
    WorkerFinished("old.py", ok=True, attempts=0),
    ChecksRunning(0, ("syntax", "pytest -q")),
    ChecksDone((check("syntax", "pass"), check("pytest -q", "fail", output="E   boom\n1 failed"))),
    Warned("pkg/a.py has uncommitted changes"),
    usage("synthesizer", None, 400, 80, 0.0001),
]


def test_plain_view_prints_one_stable_line_per_event() -> None:
    lines: list[str] = []
    view = PlainView(write=lines.append)
    for event in EVENTS:
        view.emit(event)
    assert [click.unstyle(line) for line in lines] == [
        "diffcrew: read 4 tracked files (~900 tokens of context)",
        "  explore read_file path='pkg/a.py'",
        "Plan: Type the helpers and drop the old module.",
        "  modify pkg/a.py: Add type hints to a.",
        "  create pkg/b.py: Create b.",
        "  delete old.py: Unused.",
        "  2 worker(s), estimated cost ~$0.0123 (before repairs)",
        "  worker  pkg/a.py: running",
        "  worker  pkg/b.py: running",
        "  worker  pkg/a.py: repairing (hunk 1 of 1 matches no place in the file)",
        "  worker  pkg/b.py: done after 1 attempt(s)",
        "  worker  pkg/a.py: done after 2 attempt(s)",
        "  worker  old.py: done",
        "  checks  round 1: syntax, pytest -q",
        "  check   syntax: pass in 0.5 s",
        "  check   pytest -q: fail (failed on the base too) in 0.5 s",
        "warning: pkg/a.py has uncommitted changes",
    ]


def test_a_worker_exploration_is_shown_on_its_file() -> None:
    """Issue 16: a worker's read or search names its file in the plain view and on its live row; the
    planner's goes to the planning line as before."""
    lines: list[str] = []
    view = PlainView(write=lines.append)
    view.emit(Explored("search_code", {"pattern": "def a"}, "pkg/a.py"))
    assert [click.unstyle(line) for line in lines] == ["  worker  pkg/a.py: explore search_code pattern='def a'"]
    board = Board()
    board.apply(Planned(PLAN, None))
    board.apply(WorkerRunning("pkg/a.py"))
    board.apply(Explored("read_file", {"path": "pkg/b.py"}, "pkg/a.py"))
    assert board.rows["pkg/a.py"].note == "read_file path='pkg/b.py'" and board.activity == ""
    board.apply(Explored("read_file", {"path": "x.py"}))
    assert board.activity == "read_file path='x.py'" and board.rows["pkg/a.py"].note == "read_file path='pkg/b.py'"


def test_plain_view_verbose_adds_calls_retries_and_failing_check_output() -> None:
    lines: list[str] = []
    view = PlainView(write=lines.append, verbose=True)
    for event in EVENTS:
        view.emit(event)
    plain = [click.unstyle(line) for line in lines]
    assert "  call    orchestrator: 2,000 in / 300 out tokens, $0.0070, 0.2 s" in plain
    assert "  call    worker pkg/a.py: 1,200 in (200 from cache) / 100 out tokens, $0.0031, 0.2 s" in plain
    assert "  retry   worker pkg/b.py: the model service answered HTTP 429: slow down (retry 1)" in plain
    failing = plain.index("  check   pytest -q: fail (failed on the base too) in 0.5 s")
    assert plain[failing + 1:failing + 3] == ["    E   boom", "    1 failed"]
    assert len([line for line in plain if line.startswith("  call    ")]) == 5


def test_live_view_rows_follow_the_events() -> None:
    clock, buffer = Clock(), StringIO()
    view = LiveView(Console(file=buffer, force_terminal=True, width=110, color_system="standard"), clock=clock)
    states: dict[int, list[str]] = {}
    for number, event in enumerate(EVENTS):
        clock.now += 0.5
        view.emit(event)
        states[number] = rendered(view)
    assert "planning: read_file path='pkg/a.py'" in states[1][-1]
    assert [row(states[3], p).split()[1:3] for p in ("pkg/a.py", "pkg/b.py", "old.py")] == [
        ["pkg/a.py", "queued"], ["pkg/b.py", "queued"], ["old.py", "queued"]]
    assert row(states[6], "pkg/a.py").split()[1:7] == ["pkg/a.py", "running", "1", "1.2k", "/", "100"]
    assert "$0.0031" in row(states[6], "pkg/a.py")
    repairing = row(states[7], "pkg/a.py")
    assert "repairing" in repairing and "hunk 1 of 1 matches no place" in repairing
    assert "finished: retrying worker pkg/b.py: the mod… · " in states[8][-1]  # cut to leave the totals whole
    assert states[8][-1].endswith("· 2 call(s) · 3.2k in / 400 out · $0.0101 · 4.5 s")
    assert "retrying worker pkg/b.py" not in states[9][-1]  # its call went through
    assert row(states[12], "pkg/a.py").split()[1:7] == ["pkg/a.py", "done", "2", "2.5k", "/", "220"]
    assert "$0.0071" in row(states[12], "pkg/a.py")
    assert "workers 2/3 finished" in states[12][-1]
    assert [row(states[14], p).split()[2] for p in ("pkg/a.py", "pkg/b.py", "old.py")] == ["checking"] * 3
    assert "checks round 1: syntax, pytest -q" in states[14][-1]
    assert [row(states[15], p).split()[2] for p in ("pkg/a.py", "pkg/b.py", "old.py")] == ["done"] * 3
    totals = states[17][-1]
    assert "5 call(s)" in totals and "5.7k in / 650 out" in totals and "$0.0162" in totals
    assert "workers $0.0091 (est. ~$0.0123)" in totals
    view.close()
    raw = buffer.getvalue()
    block = final_block(raw)
    assert [line.split()[:3] for line in block[1:-1]] == [
        ["✓", "pkg/a.py", "done"], ["✓", "pkg/b.py", "done"], ["✓", "old.py", "done"]]
    assert block[-1] == "total: 5 call(s) · 5.7k in / 650 out · $0.0162 · workers $0.0091 (est. ~$0.0123) · 9.0 s"
    assert "\x1b[32m✓" in raw  # done is green
    lines = screen(raw)
    assert "Plan: Type the helpers and drop the old module." in lines
    assert any(re.fullmatch(r"\s+create\s+pkg/b\.py\s+Create b\.", line) for line in lines)
    assert "  2 worker(s), estimated cost ~$0.0123 (before repairs)" in lines
    assert "  check   pytest -q: fail (failed on the base too) in 0.5 s" in lines
    assert "warning: pkg/a.py has uncommitted changes" in lines
    assert not any("call    " in line for line in lines)  # per-call lines only with -v


def test_live_view_failed_worker_and_verbose_lines() -> None:
    buffer = StringIO()
    view = LiveView(Console(file=buffer, force_terminal=True, width=100, color_system="standard"), verbose=True)
    view.emit(Planned(PLAN, estimated_cost=None))
    view.emit(WorkerRunning("pkg/a.py"))
    view.emit(usage("worker", "pkg/a.py", 500, 40, None))
    view.emit(WorkerFinished("pkg/a.py", ok=False, attempts=3, error="no usable patch"))
    failed = row(rendered(view), "pkg/a.py")
    assert failed.split()[1:4] == ["pkg/a.py", "failed", "3"] and "?" in failed and "no usable patch" in failed
    view.close()
    raw = buffer.getvalue()
    assert "\x1b[31m✗" in raw  # failed is red
    assert "  call    worker pkg/a.py: 500 in / 40 out tokens, cost unknown, 0.2 s" in screen(raw)
    assert final_block(raw)[-1].startswith("total: 1 call(s) · 500 in / 40 out · unknown · ")


def test_live_region_leaves_room_for_an_echoed_ctrl_c() -> None:
    """A full-width last line would make the terminal's `^C` echo wrap, shifting the region down a
    line, so that erasing it at the end leaves a stale header behind (seen in tmux)."""
    view = LiveView(Console(file=StringIO(), force_terminal=True, width=60), clock=Clock())
    for event in EVENTS[:8]:
        view.emit(event)
    lines = rendered(view, width=60)
    assert any("repairing" in line for line in lines) and "…" in row(lines, "pkg/a.py")  # the note is cut
    assert lines[-1].endswith("· 2 call(s) · $0.0101 · 0.0 s")  # the totals are not
    assert max(len(line) for line in lines) <= 60 - ECHO_ROOM
    view.close()


def test_live_view_stops_drawing_while_it_asks() -> None:
    view = LiveView(Console(file=StringIO(), force_terminal=True, width=100), prompt=None)
    asked: list[tuple[str, bool]] = []

    def prompt(question: str, _plan: Plan) -> bool:
        asked.append((question, view.active))
        return False

    with view:
        view.emit(Planned(PLAN, estimated_cost=0.01))
        assert view.active and view.confirm(PLAN) is True  # no prompt: never asks
        view.prompt = prompt
        assert view.confirm(PLAN) is False
        assert asked == [("Start 2 worker(s)?", False)]
        assert view.active  # drawing again after the answer
    assert not view.active


def test_live_view_leaves_nothing_when_nothing_ran() -> None:
    buffer = StringIO()
    with LiveView(Console(file=buffer, force_terminal=True, width=100)):
        pass
    assert "total:" not in buffer.getvalue()


def test_quiet_view_shows_the_plan_only_to_ask_about_it() -> None:
    lines: list[str] = []
    silent = QuietView(write=lines.append)
    for event in EVENTS:
        silent.emit(event)
    assert silent.confirm(PLAN) is True and lines == []
    asking = QuietView(write=lines.append, prompt=lambda question, _: question == "Start 2 worker(s)?")
    assert asking.confirm(PLAN) is True
    assert click.unstyle(lines[0]) == "Plan: Type the helpers and drop the old module." and len(lines) == 4


def test_choose_view_by_flags_and_terminal() -> None:
    assert type(choose_view(quiet=True, verbose=True, ask=False, terminal=True)) is QuietView
    plain = choose_view(quiet=False, verbose=True, ask=False, terminal=False)
    assert type(plain) is PlainView and plain.verbose and plain.prompt is None
    live = choose_view(quiet=False, verbose=False, ask=True, terminal=True)
    assert isinstance(live, LiveView) and live.prompt is not None


def test_diffstat_is_coloured_and_unstyles_to_the_original() -> None:
    stat = " a.py | 4 ++--\n new.md | 6 ++++++\n old.py | 1 -\n 3 files changed, 8 insertions(+), 3 deletions(-)\n"
    coloured = colour_diffstat(stat)
    assert " a.py | 4 " + click.style("++", fg="green") + click.style("--", fg="red") in coloured
    assert " old.py | 1 " + click.style("-", fg="red") in coloured
    assert coloured.splitlines()[-1] == " 3 files changed, 8 insertions(+), 3 deletions(-)"
    assert click.unstyle(coloured) == stat.rstrip("\n")


# Emitters and views cannot drift apart: a scripted run emits every event class, and each
# view shows every one of them (the quiet view, by design, shows none).

class Recorder:
    """The run's Progress in a test: keeps every event and accepts the plan."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def confirm(self, plan: Plan) -> bool:
        return True


class OneRetry(ScriptedClient):
    """The scripted model, with one transient failure on pkg/b.py's first call."""

    failed = False

    async def call(self, request: ModelRequest) -> ModelReply:
        if request.path == "pkg/b.py" and not self.failed:
            self.failed = True
            raise TransientModelError("the model service answered HTTP 529: overloaded", retry_after=0)
        return await super().call(request)


def every_event_script() -> dict[str, list[dict[str, Any]]]:
    bad = patch_turn("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-nothing like this\n+y\n")
    return {"orchestrator": [{"tool": "read_file", "input": {"path": "pkg/a.py"}},
                             plan_turn("Type a, add b, fix c, drop old.", [
                                 ("pkg/a.py", "modify", "Type a."), ("pkg/b.py", "create", "Add b."),
                                 ("c.py", "modify", "Fix c."), ("old.py", "delete", "Unused.")])],
            "worker:pkg/a.py": [bad, patch_turn(udiff("pkg/a.py", OLD_A, NEW_A))],
            "worker:pkg/b.py": [patch_turn(udiff("pkg/b.py", None, NEW_B))],
            "worker:c.py": [bad, bad],
            "review": [{"tool": "approve_change", "input": {"note": "a and b agree; c is left out."}}],
            "synthesizer": [summary_turn("Type a and add b")]}


def flow_events(tmp_path: Path) -> list[Event]:
    repo = make_repo(tmp_path / "repo", {"pkg/__init__.py": "", "pkg/a.py": OLD_A, "c.py": "c = 1\n",
                                         "old.py": "x = 1\n"})
    (repo / "c.py").write_text("c = 2\n")  # uncommitted: a warning
    recorder = Recorder()
    options = RunOptions(request=REQUEST, repo=repo, repair_rounds=1, allow_partial=True, checks=("true",))
    report = run_change(options, recorder, lambda: OneRetry(every_event_script()))
    assert report.status == "partial", report.errors
    return recorder.events


def test_every_event_a_run_emits_is_shown_by_each_view(tmp_path: Path) -> None:
    events = flow_events(tmp_path)
    assert {type(e) for e in events} == set(get_args(Event))  # the run emits every kind
    lines: list[str] = []
    plain = PlainView(write=lines.append, verbose=True)
    buffer = StringIO()
    live = LiveView(Console(file=buffer, width=200, color_system=None), verbose=True, clock=Clock())
    for event in events:
        before = len(lines)
        plain.emit(event)
        assert len(lines) > before, f"the plain view shows nothing for {event}"
        seen = buffer.getvalue(), rendered(live, width=200)
        live.emit(event)
        assert (buffer.getvalue(), rendered(live, width=200)) != seen, f"the live view shows nothing for {event}"
    live.close()


# End to end: the console script against the fake server.

OLD_A = "def a(x):\n    return x\n"
NEW_A = "def a(x: int) -> int:\n    return x\n"
NEW_B = "def b() -> None:\n    pass\n"
REQUEST = "type a, add b, drop old.py"


def three_file_script() -> dict[str, list[dict[str, Any]]]:
    return {"orchestrator": [plan_turn("Type a, add b, drop old.", [
                ("pkg/a.py", "modify", "Type a."), ("pkg/b.py", "create", "Add b."), ("old.py", "delete", "Unused.")])],
            "worker:pkg/a.py": [patch_turn(udiff("pkg/a.py", OLD_A, NEW_A))],
            "worker:pkg/b.py": [patch_turn(udiff("pkg/b.py", None, NEW_B))],
            "synthesizer": [summary_turn("Type a and add b")]}


def three_file_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"pkg/__init__.py": "", "pkg/a.py": OLD_A, "old.py": "x = 1\n"})


def run_in_pty(args: list[str], env: dict[str, str], answer: bytes | None = None,
               timeout: float = 90) -> tuple[int, str]:
    """Run the `diffcrew` console script on a 100x40 pseudo-terminal (stdin, stdout and stderr)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: nothing may return into pytest from here
        try:
            os.execvpe("diffcrew", ["diffcrew", *args], {**os.environ, **env, "TERM": "xterm-256color"})
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if answer is not None and b"worker(s)? [Y/n/v]" in output:
            os.write(fd, answer)
            answer = None
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


@pytest.mark.slow
def test_live_view_on_a_terminal_end_to_end(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    server.set_script(three_file_script())
    server.latency = 0.3  # long enough for a few frames of the live region
    code, raw = run_in_pty(["run", "--repo", str(repo), "--yes", REQUEST], server.env())
    assert code == 0, raw
    lines = screen(raw)
    assert "Plan: Type a, add b, drop old." in lines
    assert re.search(r"workers [0-2]/3 finished", ANSI.sub("", raw))  # a frame drawn mid-run
    block = final_block(raw)
    assert sorted(line.split()[:3][1:] for line in block[1:-1]) == [
        ["old.py", "done"], ["pkg/a.py", "done"], ["pkg/b.py", "done"]]
    assert block[-1].startswith("total: 5 call(s) · ")  # plan, 2 workers, review, summary
    assert re.search(r"pkg/b\.py \| 2 \x1b\[32m\+\+\x1b\[0m", raw)  # the diffstat, + in green
    assert re.search(r"old\.py\s+\| 1 \x1b\[31m-\x1b\[0m", raw)  # - in red
    assert any(line.startswith("Branch diffcrew/") for line in lines)
    assert any(line.startswith(f"Review:     git -C {repo} diff ") for line in lines)  # run from elsewhere


@pytest.mark.slow
def test_prompt_on_a_terminal_then_the_workers_run(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    server.set_script(three_file_script())
    code, raw = run_in_pty(["run", "--repo", str(repo), REQUEST], server.env(), answer=b"y\n")
    assert code == 0, raw
    lines = screen(raw)
    prompt = next(i for i, line in enumerate(lines) if line.startswith("Start 2 worker(s)? [Y/n/v]"))
    assert any(line.startswith("  2 worker(s) and a review, estimated cost") for line in lines[:prompt])
    assert [line.split()[2] for line in final_block(raw)[1:-1]] == ["done"] * 3


@pytest.mark.slow
def test_piped_output_is_plain_lines_without_escape_codes(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    server.set_script(three_file_script())
    out = subprocess.run(["diffcrew", "run", "--repo", str(repo), "--yes", REQUEST], capture_output=True,
                         text=True, env={**os.environ, **server.env(), "TERM": "xterm-256color"}, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x1b" not in out.stderr
    assert "  worker  pkg/a.py: done after 1 attempt(s)" in out.stderr.splitlines()
    assert "  worker  old.py: done" in out.stderr.splitlines()
    assert " pkg/b.py | 2 ++" in out.stdout.splitlines()


def test_verbose_shows_each_call_and_the_retries(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    script = three_file_script()
    script["worker:pkg/a.py"].insert(0, {"http_error": 429, "retry_after": 0.01})
    server.set_script(script)
    result = run_cli(["run", "--repo", str(repo), "--yes", "-v", "--check", "echo check-said-$((40+2)); exit 1",
                      REQUEST], server)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    calls = [line for line in lines if line.startswith("  call    ")]
    callers = [line.split(":")[0].split(maxsplit=1)[1] for line in calls]
    assert callers[0] == "orchestrator" and callers[-1] == "synthesizer"
    assert sorted(callers[1:-1]) == ["review", "worker pkg/a.py", "worker pkg/b.py"]
    assert all(re.search(r": [\d,]+ in( \([\d,]+ from cache\))? / [\d,]+ out tokens, \$\d+\.\d{4}, \d+\.\d s$", line)
               for line in calls)
    (retry,) = [line for line in lines if line.startswith("  retry   ")]
    assert retry.startswith("  retry   worker pkg/a.py: the model service's rate limit was reached (HTTP 429)") and "(retry 1)" in retry
    assert "    check-said-42" in lines  # a failing check's output


def test_without_verbose_no_call_lines_and_quiet_prints_only_the_result(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    server.set_script(three_file_script())
    normal = run_cli(["run", "--repo", str(repo), "--yes", "--check", "echo check-said-$((40+2)); exit 1", REQUEST],
                     server)
    assert normal.exit_code == 0, normal.output
    assert "  call    " not in normal.stderr and "check-said-42" not in normal.stderr
    assert "  worker  pkg/b.py: done after 1 attempt(s)" in normal.stderr
    server.set_script(three_file_script())
    quiet = run_cli(["run", "--repo", str(repo), "--yes", "-q", REQUEST], server)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("Branch diffcrew/") and "Usage:      5 model call(s)" in quiet.stdout


@pytest.mark.slow
def test_demo_quiet_and_verbose(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the sample repositories go there
    env = {"ANTHROPIC_API_KEY": None, "ANTHROPIC_AUTH_TOKEN": None}
    quiet = run_cli(["demo", "-q"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert "the model is SCRIPTED" in quiet.stderr and "worker  " not in quiet.stderr
    assert "Branch diffcrew/demo" in quiet.stdout
    verbose = run_cli(["demo", "-v"], env=env)
    assert verbose.exit_code == 0, verbose.output
    calls = [line for line in verbose.stderr.splitlines() if line.startswith("  call    ")]
    # 3 workers, a repair, then the review's added worker and follow-up; and two review rounds
    assert sum(line.startswith("  call    worker ") for line in calls) == 6
    assert sum(line.startswith("  call    review: ") for line in calls) == 2
    assert "  worker  inventory/report.py: done after 2 attempt(s)" in verbose.stderr


def test_replay_quiet_and_verbose(tmp_path: Path, server) -> None:
    repo = three_file_repo(tmp_path)
    server.set_script(three_file_script())
    first = run_cli(["run", "--repo", str(repo), "--yes", "-q", REQUEST], server)
    assert first.exit_code == 0, first.output
    run_id = re.search(r"runs/(\S+)\.jsonl", first.stdout).group(1)
    offline = {"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    quiet = run_cli(["replay", run_id, "--repo", str(repo), "--yes", "-q"], env=offline)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout.startswith("Branch diffcrew/")
    verbose = run_cli(["replay", run_id, "--repo", str(repo), "--yes", "-v"], env=offline)
    assert verbose.exit_code == 0, verbose.output
    calls = [line for line in verbose.stderr.splitlines() if line.startswith("  call    ")]
    assert len(calls) == 5 and calls[0].startswith("  call    orchestrator: ")  # plan, 2 workers, review, summary


def test_a_check_that_could_not_run_on_either_side_says_nothing_was_checked() -> None:
    """A check whose command is not found in the sandbox (say `.venv/bin/python`, a folder of the user's
    checkout that no commit holds) errs on the base too: not counted, so the line must say it never ran."""
    output = "/bin/sh: 1: .venv/bin/python: not found\n\n[diffcrew: this check also fails on the base commit (error); not counted]"
    line = click.unstyle(check_line(check(".venv/bin/python -m pytest", "error", output=output)))
    assert line == ("  check   .venv/bin/python -m pytest: error (could not run, on the base either: nothing was "
                    "checked; /bin/sh: 1: .venv/bin/python: not found) in 0.5 s")
    assert click.unstyle(check_line(check("pytest -q", "fail"))) == "  check   pytest -q: fail (failed on the base too) in 0.5 s"
