"""SIGTERM and SIGHUP end a run like Ctrl-C, and nothing a check starts outlives the run (issue 13, item 20).

Each test runs the real `diffcrew run` as a subprocess in its own session against the fake Messages
API. A check that daemonizes with `setsid` leaves its process group and session, so killing the
check's group is not enough: diffcrew must find and stop such escapees too.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from children import finish
from conftest import diffcrew_branches, make_repo, snapshot
from test_user_faults import (FILES, processes_with, records, running, script, slow, start, transcript_lines,
                              wait_until, worktrees)

pytestmark = pytest.mark.slow  # the slow tier: child processes signalled mid-run

# Distinctive argvs (this pytest's pid in them: another suite running on the machine has others),
# and a check far longer than any bound below, so a run that waited for it could not pass.
DAEMON = f"sleep 7.{os.getpid()}"   # the process the check daemonizes
CHECK = f"sleep 300.{os.getpid()}"  # the check's own long-running command


def started(*argvs: str) -> None:
    """Wait (at most 60 s) until a process runs with each exact argv: what a fixed sleep used to guess."""
    wait_until(lambda: all(running(argv) for argv in argvs))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_run_like_ctrl_c(tmp_path: Path, server, signum: int) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    child = start(repo, server, "--check", f"setsid {DAEMON} & {CHECK}")
    started(DAEMON, CHECK)  # was: the marker, then a 0.3 s sleep
    os.kill(child.pid, signum)
    code, _, err = finish(child, 60)  # was: < 10 s; None if it waited for the 300 s check
    assert code == 128 + signum, err
    assert signal.Signals(signum).name in err and "unchanged" in err and "Traceback" not in err
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before
    assert len(worktrees(repo)) == 1 and records(repo) == []
    entries = transcript_lines(repo)
    assert entries[-1]["kind"] == "end" and entries[-1]["exit_code"] == 128 + signum
    assert processes_with(CHECK) == [] and processes_with(DAEMON) == []


def test_a_daemon_started_by_a_passing_check_does_not_outlive_the_run(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    child = start(repo, server, "--check", f"setsid {DAEMON} > /dev/null 2>&1 & true")
    code, _, err = finish(child, 60)
    assert code == 0, err
    wait_until(lambda: processes_with(DAEMON) == [], timeout=10)


def test_sigterm_while_the_workers_wait_for_the_model(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    slow(server, 300, "worker:")  # far longer than the bound below: a run that waits cannot pass
    child = start(repo, server, "--check", "true")
    wait_until(lambda: len({r.key for r in server.requests if (r.key or "").startswith("worker:")}) == 2)
    os.kill(child.pid, signal.SIGTERM)
    code, _, err = finish(child, 60)  # was: < 10 s after the signal
    assert code == 143, err
    assert "terminated by SIGTERM; your repository is unchanged" in err and "Traceback" not in err
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    assert transcript_lines(repo)[-1]["status"] == "interrupted"


def test_after_kill_9_the_next_run_stops_what_the_dead_runs_checks_daemonized(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    check = f"sleep 8.{os.getpid()}"  # what kill -9 may orphan: short
    child = start(repo, server, "--check", f"setsid {DAEMON} > /dev/null 2>&1 & {check}")
    started(DAEMON, check)  # was: the marker, then a 0.2 s sleep (the daemon was not always there yet)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert processes_with(DAEMON) != []  # out of every group diffcrew knew
    server.set_script(script())
    code, _, err = finish(start(repo, server, "--check", "true"), 60)
    assert code == 0, err
    assert processes_with(DAEMON) == [] and len(worktrees(repo)) == 1 and records(repo) == []
