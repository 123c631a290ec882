"""`diffcrew log`, `show` and `discard` read the recorded runs."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff

OLD = "def area(w, h):\n    return w * h\n"
NEW = "def area(w: float, h: float) -> float:\n    return w * h\n"


def one_run(tmp_path: Path, server) -> tuple[Path, dict]:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    server.set_script({"orchestrator": [plan_turn("Type area.", [("geo.py", "modify", "Add hints.")])],
                       "worker:geo.py": [patch_turn(udiff("geo.py", OLD, NEW))], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "type the area function"], server)
    assert result.exit_code == 0, result.output
    return repo, json.loads(result.stdout)


def test_log_and_show_list_the_recorded_runs(tmp_path: Path, server) -> None:
    repo, report = one_run(tmp_path, server)
    listed = run_cli(["log", "--repo", str(repo), "--json"])
    (entry,) = json.loads(listed.stdout)
    assert entry["run_id"] == report["run_id"] and entry["status"] == "ok" and entry["branch"] == report["branch"]
    assert entry["cost_usd"] == report["cost_usd"] and entry["request"] == "type the area function"
    text = run_cli(["log", "--repo", str(repo)]).stdout
    assert report["run_id"] in text and report["branch"] in text
    shown = run_cli(["show", report["run_id"], "--repo", str(repo)])
    assert shown.exit_code == 0
    assert "Plan: Type area." in shown.stdout and "geo.py: ok after 1 attempt(s)" in shown.stdout
    assert "+def area(w: float, h: float) -> float:" in shown.stdout and "check  syntax: pass" in shown.stdout


def test_discard_deletes_only_the_runs_own_branch(tmp_path: Path, server) -> None:
    repo, report = one_run(tmp_path, server)
    before = snapshot(repo)
    done = run_cli(["discard", report["run_id"], "--repo", str(repo)])
    assert done.exit_code == 0 and f"deleted branch {report['branch']}" in done.stdout
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before
    again = run_cli(["discard", report["run_id"], "--repo", str(repo)])
    assert again.exit_code == 2 and again.stdout == ""
    assert f"branch {report['branch']} of run {report['run_id']} is already gone (discarded " in again.stderr
    listed = run_cli(["log", "--repo", str(repo)]).stdout
    assert f"{report['branch']} (discarded)" in listed
    assert json.loads(run_cli(["log", "--repo", str(repo), "--json"]).stdout)[0]["discarded"] is True


def test_discard_refuses_a_branch_that_moved_or_is_checked_out(tmp_path: Path, server) -> None:
    repo, report = one_run(tmp_path, server)
    git(repo, "checkout", "-q", report["branch"])
    checked_out = run_cli(["discard", report["run_id"], "--repo", str(repo)])
    assert checked_out.exit_code == 2 and "is checked out" in checked_out.stderr
    (repo / "geo.py").write_text(NEW + "# mine\n")
    git(repo, "commit", "-q", "-am", "my own work on top")
    moved = run_cli(["discard", report["run_id"], "--repo", str(repo)])
    assert moved.exit_code == 2 and "has moved" in moved.stderr
    assert diffcrew_branches(repo) == [report["branch"]]


def test_discard_refuses_a_branch_checked_out_in_another_worktree(tmp_path: Path, server) -> None:
    # git's `branch -D` refuses this too; deleting it would leave that worktree on an unborn branch.
    repo, report = one_run(tmp_path, server)
    other = tmp_path / "other-wt"
    git(repo, "worktree", "add", "-q", str(other), report["branch"])
    refused = run_cli(["discard", report["run_id"], "--repo", str(repo)])
    assert refused.exit_code == 2 and refused.stdout == ""
    assert f"branch {report['branch']} is checked out in the worktree at {other}" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert diffcrew_branches(repo) == [report["branch"]]
    assert git(other, "rev-parse", "HEAD").strip() == report["commit"]


def test_json_commands_that_fail_print_no_json_of_another_command(tmp_path: Path) -> None:
    # An error of show/log/config/context is one line on stderr; stdout stays empty for `jq`, never
    # an apply-shaped {"status": "failed", "files": ...} object.
    repo = make_repo(tmp_path / "repo", {"a.py": OLD})
    for args in (["show", "no-such-run", "--json"], ["context", "x", "--json", "--base", "no-such-commit"]):
        result = run_cli([*args, "--repo", str(repo)])
        assert result.exit_code != 0 and result.stdout == "", (args, result.stdout)
        assert result.stderr.startswith("diffcrew: error:")
