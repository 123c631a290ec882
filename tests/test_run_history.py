"""Naming recorded runs (short id, `last`, branch, completion) and history that stays true: `discard`
of a pushed branch, a second `discard`, and what `log` and `replay` say about cost and kind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from children import finish
from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff
from test_user_faults import FILES, script, slow, start, wait_until

OLD = "def area(w, h):\n    return w * h\n"
NEW = "def area(w: float, h: float) -> float:\n    return w * h\n"


def one_run(repo: Path, server, *args: str, request: str = "type the area function") -> dict:
    server.set_script({"orchestrator": [plan_turn("Type area.", [("geo.py", "modify", "Add hints.")])],
                       "worker:geo.py": [patch_turn(udiff("geo.py", OLD, NEW))], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", *args, request], server)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def shown_id(repo: Path, name: str) -> str:
    result = run_cli(["show", name, "--repo", str(repo), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["run_id"]


def test_a_run_is_named_by_its_id_short_id_branch_or_last(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    first = one_run(repo, server)
    second = one_run(repo, server, request="type area again")
    for run in (first, second):
        short = run["run_id"].rsplit("-", 1)[-1]
        assert run["branch"].endswith(short)
        assert shown_id(repo, run["run_id"]) == shown_id(repo, short) == shown_id(repo, run["branch"]) \
            == run["run_id"]
    assert shown_id(repo, "last") == second["run_id"]
    ambiguous = run_cli(["show", first["run_id"][:8], "--repo", str(repo)])  # the day's date: both runs
    assert ambiguous.exit_code == 2 and ambiguous.stdout == ""
    (line,) = ambiguous.stderr.splitlines()
    assert "names 2 runs" in line and first["run_id"] in line and second["run_id"] in line
    gone = run_cli(["discard", "diffcrew/no-such-branch", "--repo", str(repo)])
    assert gone.exit_code == 2 and "no recorded run 'diffcrew/no-such-branch'" in gone.stderr
    done = run_cli(["discard", first["branch"], "--repo", str(repo)])  # discard takes the branch name too
    assert done.exit_code == 0 and diffcrew_branches(repo) == [second["branch"]]


def test_run_ids_complete_in_the_shell(tmp_path: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffcrew.agent.cli import main

    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    run = one_run(repo, server)
    complete = ShellComplete(main, {}, "diffcrew", "_DIFFCREW_COMPLETE")
    for command in ("show", "discard", "replay", "retry"):
        items = complete.get_completions([command, "--repo", str(repo)], "")
        assert [i.value for i in items] == ["last", run["run_id"]], command
        assert items[1].help == "type the area function"
    assert [i.value for i in complete.get_completions(["show", "--repo", str(repo)], run["run_id"][:4])] \
        == [run["run_id"]]
    monkeypatch.chdir(repo)  # without --repo: the current directory's repository
    assert [i.value for i in complete.get_completions(["show"], "la")] == ["last"]


def pushed_run(tmp_path: Path, server) -> tuple[Path, dict]:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    report = one_run(repo, server, "--push", "origin")
    assert report["remote"] == "origin"
    return repo, report


def remote_branches(repo: Path) -> list[str]:
    return [line.split("\t")[1] for line in git(repo, "ls-remote", "origin").splitlines()]


def test_discard_of_a_pushed_branch_deletes_the_remote_one_only_when_asked(tmp_path: Path, server) -> None:
    repo, report = pushed_run(tmp_path, server)
    branch, run_id = report["branch"], report["run_id"]
    kept = run_cli(["discard", run_id, "--repo", str(repo)])  # not at a terminal, no flag: left there
    assert kept.exit_code == 0, kept.output
    assert f"deleted branch {branch}\n" in kept.stdout
    assert f"branch {branch} was also pushed to origin and is still there" in kept.stdout
    assert remote_branches(repo) == [f"refs/heads/{branch}"] and diffcrew_branches(repo) == []
    refused = run_cli(["discard", run_id, "--repo", str(repo), "--keep-remote"])
    assert refused.exit_code == 2 and "is still on origin" in refused.stderr and remote_branches(repo) != []
    removed = run_cli(["discard", run_id, "--repo", str(repo), "--remote"])
    assert removed.exit_code == 0 and f"deleted branch {branch} on origin" in removed.stdout
    assert remote_branches(repo) == []
    again = run_cli(["discard", run_id, "--repo", str(repo), "--remote"])
    assert again.exit_code == 2 and f"branch {branch} of run {run_id} is already gone" in again.stderr


def test_discard_asks_at_a_terminal_before_deleting_the_remote_branch(tmp_path: Path, server,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from diffcrew.agent.cli import records

    monkeypatch.setattr(records, "can_ask", lambda: True)
    repo, report = pushed_run(tmp_path, server)
    declined = run_cli(["discard", report["run_id"], "--repo", str(repo)], input="n\n")
    assert declined.exit_code == 0 and "delete it there too?" in declined.stderr
    assert remote_branches(repo) == [f"refs/heads/{report['branch']}"]
    accepted = run_cli(["discard", report["run_id"], "--repo", str(repo)], input="y\n")
    assert accepted.exit_code == 0 and f"deleted branch {report['branch']} on origin" in accepted.stdout
    assert remote_branches(repo) == []


def test_discard_never_deletes_a_remote_branch_that_moved(tmp_path: Path, server) -> None:
    repo, report = pushed_run(tmp_path, server)
    branch = report["branch"]
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", branch, str(tmp_path / "remote.git"), str(other))
    (other / "geo.py").write_text(NEW + "# theirs\n")
    git(other, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qam", "theirs")
    git(other, "push", "-q", "origin", branch)
    result = run_cli(["discard", report["run_id"], "--repo", str(repo), "--remote"])
    assert result.exit_code == 2 and f"branch {branch} on origin was not deleted" in result.stderr
    assert remote_branches(repo) == [f"refs/heads/{branch}"]


def test_replay_reports_its_own_cost(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD})
    original = one_run(repo, server)
    assert original["cost_usd"] > 0
    replayed = run_cli(["replay", "last", "--repo", str(repo), "--yes", "--json"],
                       env={"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert replayed.exit_code == 0, replayed.output
    again = json.loads(replayed.stdout)
    assert again["cost_usd"] == 0 and all(u["output_tokens"] == 0 for u in again["usage"].values())
    logged = {r["run_id"]: r for r in json.loads(run_cli(["log", "--repo", str(repo), "--json"]).stdout)}
    assert logged[again["run_id"]]["cost_usd"] == 0 and logged[original["run_id"]]["cost_usd"] > 0


def test_log_labels_a_fix_run_with_its_standing_request(tmp_path: Path, seam, monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    standing = "Give every function a docstring."
    repo = make_repo(tmp_path / "repo", {"geo.py": OLD, ".diffcrew.toml": f'fix_request = "{standing}"\n'})
    staged = OLD + "\n\ndef half(x):\n    return x / 2\n"
    (repo / "geo.py").write_text(staged)
    git(repo, "add", "geo.py")
    fixed = staged.replace("    return x / 2", '    """Half of x."""\n    return x / 2')
    seam.set_script({"orchestrator": [plan_turn("Document half.", [("geo.py", "modify", "Docstring.")])],
                     "worker:geo.py": [patch_turn(udiff("geo.py", staged, fixed))]})
    monkeypatch.chdir(repo)
    assert run_cli(["fix", "geo.py"], seam).exit_code == 1  # files changed
    (entry,) = json.loads(run_cli(["log", "--json"]).stdout)
    assert entry["command"] == "fix" and entry["request"] == standing
    assert entry["status"] == "changed"  # what the fix did, not its pipeline's `dry-run`
    (line,) = run_cli(["log"]).stdout.splitlines()
    assert line.endswith(f"fix: {standing}") and "staged for commit" not in line and " changed " in line
    git(repo, "add", "geo.py")
    seam.set_script({"orchestrator": [plan_turn("Every function has its docstring.", [])]})
    assert run_cli(["fix", "geo.py"], seam).exit_code == 0  # nothing to change
    assert [e["status"] for e in json.loads(run_cli(["log", "--json"]).stdout)] == ["unchanged", "changed"]
    # the run went well, but the file was edited meanwhile: nothing was written, and log says failed
    from diffcrew.agent import run as flow
    real = flow.run_change

    def edited_meanwhile(*args, **kwargs):
        report = real(*args, **kwargs)
        (repo / "geo.py").write_text(fixed + "# edited meanwhile\n")
        return report

    monkeypatch.setattr(flow, "run_change", edited_meanwhile)
    (repo / "geo.py").write_text(staged)
    git(repo, "add", "geo.py")
    seam.set_script({"orchestrator": [plan_turn("Document half.", [("geo.py", "modify", "Docstring.")])],
                     "worker:geo.py": [patch_turn(udiff("geo.py", staged, fixed))]})
    refused = run_cli(["fix", "geo.py"], seam)
    assert refused.exit_code != 0 and "changed in the working tree while diffcrew was running" in refused.stderr
    assert json.loads(run_cli(["log", "--json"]).stdout)[0]["status"] == "failed"


@pytest.mark.slow
def test_log_shows_the_calls_and_cost_of_a_killed_run(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    slow(server, 300, "worker:units.py")  # far longer than the test: the run is killed while it waits
    child = start(repo, server)
    runs = repo / ".git" / "diffcrew" / "runs"

    def calls_recorded() -> int:
        return sum(line.count('"kind": "call"') for p in runs.glob("*.jsonl") for line in p.read_text().splitlines())

    wait_until(lambda: runs.is_dir() and calls_recorded() == 2)  # the plan and geo.py's worker
    os.killpg(child.pid, signal.SIGKILL)
    finish(child, 60)
    (entry,) = json.loads(run_cli(["log", "--repo", str(repo), "--json"]).stdout)
    assert entry["status"] == "incomplete" and entry["calls"] == 2
    assert entry["cost_usd"] is not None and entry["cost_usd"] > 0
    (line,) = run_cli(["log", "--repo", str(repo)]).stdout.splitlines()
    assert "  2 calls" in line and "$" in line and " ? " not in line
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True).stdout == b""
