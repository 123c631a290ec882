"""SIGTERM and SIGHUP end a run like Ctrl-C, and nothing a check starts outlives the run (issue 13, item 20).

Each test runs the real `diffcrew run` as a subprocess in its own session against the fake Messages
API. A check that daemonizes with `setsid` leaves its process group and session, so killing the
check's group is not enough: diffcrew must find and stop such escapees too.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from children import finish
from conftest import diffcrew_branches, make_repo, snapshot
from test_user_faults import (FILES, processes_with, records, script, slow, start, transcript_lines, wait_until,
                              worktrees)

pytestmark = pytest.mark.slow  # the slow tier: child processes signalled mid-run

DAEMON = "sleep 7.125"   # distinctive argv of the process the check daemonizes
CHECK = "sleep 8.375"    # distinctive argv of the check's own long-running command


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_run_like_ctrl_c(tmp_path: Path, server, signum: int) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    marker = tmp_path / "check-started"
    child = start(repo, server, "--check", f"setsid {DAEMON} & touch '{marker}'; {CHECK}")
    wait_until(marker.exists)
    time.sleep(0.3)
    sent = time.monotonic()
    os.kill(child.pid, signum)
    code, _, err = finish(child, 30)
    assert code == 128 + signum, err
    assert time.monotonic() - sent < 10
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
    wait_until(lambda: processes_with(DAEMON) == [], timeout=2)


def test_sigterm_while_the_workers_wait_for_the_model(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    before = snapshot(repo)
    server.set_script(script())
    slow(server, 30, "worker:")
    child = start(repo, server, "--check", "true")
    wait_until(lambda: len({r.key for r in server.requests if (r.key or "").startswith("worker:")}) == 2)
    sent = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    code, _, err = finish(child, 30)
    assert code == 143 and time.monotonic() - sent < 10, err
    assert "terminated by SIGTERM; your repository is unchanged" in err and "Traceback" not in err
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    assert transcript_lines(repo)[-1]["status"] == "interrupted"


def test_after_kill_9_the_next_run_stops_what_the_dead_runs_checks_daemonized(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    marker = tmp_path / "check-started"
    child = start(repo, server, "--check", f"setsid {DAEMON} > /dev/null 2>&1 & touch '{marker}'; {CHECK}")
    wait_until(marker.exists)
    time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert processes_with(DAEMON) != []  # out of every group diffcrew knew
    server.set_script(script())
    code, _, err = finish(start(repo, server, "--check", "true"), 60)
    assert code == 0, err
    assert processes_with(DAEMON) == [] and len(worktrees(repo)) == 1 and records(repo) == []
