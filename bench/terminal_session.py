"""A terminal session, as a person sees it: `diffcrew run` inside tmux, captured with capture-pane.

Not a test. Each scenario builds a repository under a temporary folder (removed at the end),
starts the strict fake Messages API (tests/fakes/server.py) with a script, and runs the real
console script in a detached tmux session of its own on a private socket (`tmux -L
diffcrew-bench`), 120x40 unless said otherwise; only the sessions this script made are killed.

  1. 45 files in 120x40: the screen mid-run and at the end; is the totals line there, whole?
  2. the go-ahead prompt: `v` prints the whole plan; is every file's instruction text on screen?
  3. Ctrl-C (`send-keys C-c`) 1 s after the start: seconds from the key to the exit, against a
     baseline measured in the same run (a bare `python -c "import anthropic"`);
  4. `NO_COLOR=1` through the pty: escape sequences in `capture-pane -e` (goal 0).

    python bench/terminal_session.py [--latency 0.6]

It prints each capture and then the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.server import FakeMessagesServer  # noqa: E402
from fanout import import_floor, make_repo, script_for  # noqa: E402

SOCKET = "diffcrew-bench"
WIDTH, HEIGHT = 120, 40
ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
WORDY = ("Log each event at debug level in handler 0, with the event's id and the number of items, before "
         "the total is computed; keep the function's signature, its return value and every other handler as "
         "they are, and do not add imports beyond the logging module that is already there.")


def tmux(*args: str) -> str:
    out = subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


@dataclass
class Session:
    """One `diffcrew` command in its own tmux session; its exit code lands in `done` when it ends."""

    name: str
    done: Path
    started: float = 0.0

    @classmethod
    def start(cls, name: str, work: Path, argv: list[str], env: dict[str, str], width: int = WIDTH,
              height: int = HEIGHT) -> "Session":
        done = work / f"{name}.exit"
        script = work / f"{name}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        # the pane stays open after the command (sleep) so that the last screen can be captured
        script.write_text(f"#!/bin/sh\ntrap true INT\n{exports}{shlex.join(argv)}\necho $? > {shlex.quote(str(done))}\n"
                          "exec sleep 600\n")
        script.chmod(0o700)
        session = cls(f"{name}-{os.getpid()}", done)
        session.started = time.monotonic()
        tmux("new-session", "-d", "-s", session.name, "-x", str(width), "-y", str(height), str(script))
        return session

    def capture(self, escapes: bool = False, history: bool = False) -> str:
        return tmux("capture-pane", "-p", "-t", self.name, *(["-e"] if escapes else []),
                    *(["-S", "-"] if history else []))

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def exit_code(self) -> int | None:
        text = self.done.read_text().strip() if self.done.exists() else ""
        return int(text) if text else None

    def wait(self, until: Callable[[], bool], timeout: float = 120, step: float = 0.01) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return True
            time.sleep(step)
        return False

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", self.name], capture_output=True)


def totals_line(screen: str) -> str | None:
    """The live region's totals (spinner first) or the final `total:` line, whichever is last."""
    found = [line.rstrip() for line in screen.splitlines()
             if (line[:1] and line[:1] in SPINNER) or line.startswith("total: ")]
    return found[-1] if found else None


def whole(line: str | None) -> bool:
    """A totals line with its counts and its cost, not cut with an ellipsis."""
    return line is not None and "…" not in line and "..." not in line and bool(
        re.search(r"\d+ call", line) and re.search(r"\$\d+\.\d{4}", line))


def show(title: str, text: str) -> None:
    print(f"\n===== {title} " + "=" * max(0, 100 - len(title)))
    print(text.rstrip("\n"))


def diffcrew_argv(repo: Path, *flags: str) -> list[str]:
    exe = shutil.which("diffcrew", path=str(Path(sys.executable).parent)) or shutil.which("diffcrew")
    if exe is None:
        raise SystemExit("the diffcrew console script is not installed (pip install -e .)")
    return [exe, "run", "--repo", str(repo), *flags, "add debug logging"]


def wordy(turns: dict[str, Any]) -> dict[str, Any]:
    for edit in turns["orchestrator"][0]["input"]["edits"]:
        edit["instructions"] = WORDY
    return turns


def scenario_live(work: Path, latency: float, figures: dict[str, Any]) -> None:
    repo = work / "live"
    texts = make_repo(repo, 45)
    with FakeMessagesServer(script_for(texts), latency=latency) as server:
        session = Session.start("live", work, diffcrew_argv(repo, "--yes"), server.env())
        try:
            frames: list[str] = []

            def midway() -> bool:
                screen = session.capture()
                frames.append(screen)
                match = re.search(r"workers (\d+)/45 finished", screen)
                return match is not None and 10 <= int(match.group(1)) < 45

            session.wait(midway, timeout=120, step=0.1)
            mid = frames[-1]
            session.wait(lambda: session.exit_code() is not None, timeout=180)
            end, scrollback = session.capture(), session.capture(history=True)
        finally:
            session.kill()
    show("1. 45 files in 120x40, mid-run (capture-pane -p)", mid)
    show("1. 45 files in 120x40, at the end (capture-pane -p)", end)
    live_frames = [f for f in frames if (totals_line(f) or " ")[0] in SPINNER]
    figures["1. frames captured with a live region"] = len(live_frames)
    figures["1. frames whose totals line is whole"] = sum(1 for f in live_frames if whole(totals_line(f)))
    figures["1. mid-run totals line"] = totals_line(mid)
    figures["1. final totals line"] = totals_line(scrollback)
    figures["1. widest captured line (cells)"] = max(len(line.rstrip()) for f in frames for line in f.splitlines())
    figures["1. exit code"] = session.exit_code()


def scenario_plan(work: Path, figures: dict[str, Any]) -> None:
    repo = work / "plan"
    texts = make_repo(repo, 12)
    with FakeMessagesServer(wordy(script_for(texts))) as server:
        session = Session.start("plan", work, diffcrew_argv(repo), server.env())
        try:
            asked = session.wait(lambda: "[Y/n/v]" in session.capture(), timeout=60)
            before = session.capture(history=True)
            session.keys("v", "Enter")
            session.wait(lambda: session.capture(history=True).count("[Y/n/v]") >= 2, timeout=30)
            viewed = session.capture(history=True)
            session.keys("n", "Enter")
            session.wait(lambda: session.exit_code() is not None, timeout=30)
        finally:
            session.kill()
    show("2. the plan at the go-ahead prompt, before answering (capture-pane -p -S -)", before)
    show("2. after answering v (capture-pane -p -S -)", viewed)
    figures["2. prompt shown"] = asked
    for when, screen in (("before answering", before), ("after v", viewed)):
        flat = " ".join(screen.split())
        shown = sum(1 for path in texts if f"{path} {WORDY}" in flat)
        figures[f"2. files whose whole instructions are on screen {when}"] = f"{shown}/{len(texts)}"
    figures["2. exit code after n"] = session.exit_code()


def scenario_ctrl_c(work: Path, latency: float, figures: dict[str, Any]) -> None:
    repo = work / "ctrl-c"
    texts = make_repo(repo, 45)
    branches_before = subprocess.run(["git", "branch", "--list"], cwd=repo, capture_output=True, text=True).stdout
    floor = import_floor()
    with FakeMessagesServer(script_for(texts), latency=latency) as server:
        session = Session.start("ctrl-c", work, diffcrew_argv(repo, "--yes"), server.env())
        try:
            time.sleep(max(0.0, session.started + 1.0 - time.monotonic()))
            screen_at_key = session.capture()
            sent = time.monotonic()
            session.keys("C-c")
            session.wait(lambda: session.exit_code() is not None, timeout=60, step=0.005)
            took = time.monotonic() - sent
            end = session.capture()
        finally:
            session.kill()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    branches = subprocess.run(["git", "branch", "--list"], cwd=repo, capture_output=True, text=True).stdout
    show("3. Ctrl-C at 1 s: the screen when the key was sent", screen_at_key)
    show("3. Ctrl-C at 1 s: the screen after the exit", end)
    figures["3. seconds from Ctrl-C to exit"] = round(took, 3)
    figures["3. baseline: python -c 'import anthropic' (s)"] = round(floor, 3)
    figures["3. ratio exit time / baseline"] = round(took / floor, 2)
    figures["3. exit code"] = session.exit_code()
    figures["3. checkout clean and no new branch"] = status == "" and branches == branches_before


def scenario_no_color(work: Path, figures: dict[str, Any]) -> None:
    repo = work / "no-color"
    texts = make_repo(repo, 3)
    with FakeMessagesServer(script_for(texts), latency=0.2) as server:
        session = Session.start("no-color", work, diffcrew_argv(repo, "--yes"), {**server.env(), "NO_COLOR": "1"})
        try:
            frames: list[str] = []
            session.wait(lambda: frames.append(session.capture(escapes=True)) or session.exit_code() is not None,
                         timeout=60, step=0.1)
            end = session.capture(escapes=True, history=True)
        finally:
            session.kill()
    show("4. NO_COLOR=1 at the end (capture-pane -p -e -S -, escapes shown as \\e)", end.replace("\x1b", "\\e"))
    figures["4. escape sequences in the final capture (goal 0)"] = len(ESCAPE.findall(end))
    figures["4. escape sequences in the captures taken mid-run"] = sum(len(ESCAPE.findall(f)) for f in frames)
    figures["4. exit code"] = session.exit_code()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.6, help="seconds per model call of the fake server")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="diffcrew-terminal-") as tmp:
        work = Path(tmp)
        scenario_live(work, args.latency, figures)
        scenario_plan(work, figures)
        scenario_ctrl_c(work, args.latency, figures)
        scenario_no_color(work, figures)
    print("\n===== figures " + "=" * 88)
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
