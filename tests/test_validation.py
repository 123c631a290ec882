"""Checks in a sandbox worktree before anything is committed, and repair from their real output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

pytestmark = pytest.mark.slow  # the slow tier: real checks in worktrees, child processes killed

OLD = "def area(w, h):\n    return w * h\n"
BROKEN = "def area(w, h):\n    return (w * h\n"
FIXED = "def area(w: float, h: float) -> float:\n    return w * h\n"
FILES = {"geo.py": OLD, "notes.txt": "plain\n",
         "test_old.py": "def test_known_bad():\n    assert 1 == 2\n"}


def script(worker: list[dict]) -> dict:
    return {"orchestrator": [plan_turn("Type area.", [("geo.py", "modify", "Add float type hints.")])],
            "worker:geo.py": worker, "synthesizer": [summary_turn("Type area")]}


def run(tmp_path: Path, fake, worker: list[dict], *args: str):
    """The run over `fake`: the `seam` client, or the `server` where the test needs the wire."""
    repo = make_repo(tmp_path / "repo", FILES)
    fake.set_script(script(worker))
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", *args, "type area"], fake)
    return result, repo, before


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def test_broken_syntax_is_caught_and_repaired_by_the_worker(tmp_path: Path, seam) -> None:
    # every patch, the repair too, is the complete diff against the base version (protocol §3)
    worker = [patch_turn(udiff("geo.py", OLD, BROKEN)), patch_turn(udiff("geo.py", OLD, FIXED))]
    result, repo, before = run(tmp_path, seam, worker)
    assert result.exit_code == 0, result.output
    assert git(repo, "show", f"{diffcrew_branches(repo)[0]}:geo.py") == FIXED
    repair = [r for r in seam.requests if r.key == "worker:geo.py"][1].body["messages"][-1]["content"][0]
    assert repair["type"] == "tool_result" and repair["is_error"] is True
    assert "syntax" in repair["content"] and "geo.py:2" in repair["content"]
    assert "return (w * h" in repair["content"]  # the result of the failing patch, for reference
    assert "against its base version" in repair["content"]
    report = json.loads(result.stdout)
    assert report["checks"][0]["name"] == "syntax" and report["checks"][0]["status"] == "pass"
    assert snapshot(repo) == before and len(worktrees(repo)) == 1


def test_syntax_failure_that_is_never_repaired_makes_no_branch(tmp_path: Path, seam) -> None:
    result, repo, before = run(tmp_path, seam, [patch_turn(udiff("geo.py", OLD, BROKEN))], "--repair-rounds", "0")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert "checks failed" in report["errors"][0] and report["branch"] is None
    (check,) = report["checks"]
    assert check["status"] == "fail" and check["new_failure"] is True and "geo.py" in check["files"]
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before and len(worktrees(repo)) == 1


def test_a_pre_existing_failing_test_does_not_block_an_unrelated_change(tmp_path: Path, seam) -> None:
    result, repo, _ = run(tmp_path, seam, [patch_turn(udiff("geo.py", OLD, FIXED))],
                          "--check", "python -m pytest -q -p no:cacheprovider test_old.py")
    assert result.exit_code == 0, result.output
    check = next(c for c in json.loads(result.stdout)["checks"] if c["name"].startswith("python -m pytest"))
    assert check["status"] == "fail" and check["base_status"] == "fail" and check["new_failure"] is False
    assert "1 failed" in check["output"] and check["duration_s"] > 0


def test_a_hanging_check_is_killed_at_its_timeout_and_reported(tmp_path: Path, seam) -> None:
    # Was: the run took < 30 s. Now the run's --timeout is the guard: a check not killed at its 1 s
    # timeout (it sleeps 600 s) ends the run with exit 3 instead of 1.
    result, repo, before = run(tmp_path, seam, [patch_turn(udiff("geo.py", OLD, FIXED))], "--repair-rounds", "0",
                               "--check", "grep -q float geo.py && sleep 600 || true", "--check-timeout", "1",
                               "--timeout", "60")
    assert result.exit_code == 1, result.output
    check = next(c for c in json.loads(result.stdout)["checks"] if c["name"] != "syntax")
    assert check["status"] == "timeout" and check["new_failure"] is True and check["base_status"] == "pass"
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


def test_checks_cannot_see_the_api_key(tmp_path: Path, server) -> None:
    result, _, _ = run(tmp_path, server, [patch_turn(udiff("geo.py", OLD, FIXED))],
                       "--check", 'test -z "$ANTHROPIC_API_KEY" && test -z "$ANTHROPIC_BASE_URL" && env')
    assert result.exit_code == 0, result.output
    assert "test-key" not in result.stdout


def test_allow_failing_commits_and_names_the_failing_check(tmp_path: Path, seam) -> None:
    result, repo, _ = run(tmp_path, seam, [patch_turn(udiff("geo.py", OLD, FIXED))], "--repair-rounds", "0",
                          "--allow-failing", "--check", "! grep -q float geo.py")
    assert result.exit_code == 0, result.output
    message = git(repo, "log", "-1", "--format=%B", diffcrew_branches(repo)[0])
    assert "Checks still failing (--allow-failing):\n- ! grep -q float geo.py" in message


def test_checks_from_pyproject_are_used(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, "pyproject.toml": '[tool.diffcrew]\nchecks = ["grep -q float {files}"]\n'})
    seam.set_script(script([patch_turn(udiff("geo.py", OLD, FIXED))]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "type area"], seam)
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)["checks"]] == ["syntax", "grep -q float {files}"]


def test_a_run_killed_mid_check_leaves_a_worktree_the_next_run_prunes(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script([patch_turn(udiff("geo.py", OLD, FIXED))]))
    before = snapshot(repo)
    marker = tmp_path / "check-started"
    env = {**os.environ, **server.env()}
    child = subprocess.Popen(["diffcrew", "run", "--repo", str(repo), "--yes", "--check",
                              f"touch {marker} && sleep 60", "type area"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert len(worktrees(repo)) == 2 and snapshot(repo) == before
    server.set_script(script([patch_turn(udiff("geo.py", OLD, FIXED))]))
    result = run_cli(["run", "--repo", str(repo), "--yes", "type area"], server)
    assert result.exit_code == 0, result.output
    assert len(worktrees(repo)) == 1 and snapshot(repo) == before
