"""Issue 18, item 1: nothing is paid for before the flags are known to work, and a failure after
the branch exists says so (exit 6, the Branch line on stdout, the branch in the JSON report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import diffcrew_branches, git, make_repo, run_cli, snapshot
from diffcrew.tools.errors import ExitCode
from scenarios import FILES, four_file_script

REQUEST = "type the greeting"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", FILES)


def one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("diffcrew: error: ")
    return lines[0]


def refused(repo: Path, seam, *args: str) -> str:
    """The one error line of a run refused as a usage error, with no model call and nothing written."""
    seam.set_script(four_file_script())
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", *args, REQUEST], seam)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert seam.requests == [] and result.stdout == ""
    assert snapshot(repo) == before and diffcrew_branches(repo) == []
    return one_error(result.stderr)


# -- output paths and remotes, checked before the first model call ------------------------------

def test_a_pr_body_in_a_missing_directory_is_refused_before_any_call(repo: Path, tmp_path: Path, seam) -> None:
    line = refused(repo, seam, "--pr-body", str(tmp_path / "no" / "such" / "pr.md"))
    assert "--pr-body" in line and "does not exist" in line


def test_a_pr_body_that_is_a_directory_is_refused_before_any_call(repo: Path, tmp_path: Path, seam) -> None:
    assert "is a directory" in refused(repo, seam, "--pr-body", str(tmp_path))


def test_a_pr_body_under_a_file_is_refused_before_any_call(repo: Path, seam) -> None:
    assert "does not exist" in refused(repo, seam, "--pr-body", str(repo / "README.md" / "pr.md"))


def test_an_unknown_push_remote_is_refused_before_any_call(repo: Path, seam) -> None:
    assert "no remote named 'upstream'" in refused(repo, seam, "--push", "upstream")


def test_an_empty_check_is_refused_before_any_call(repo: Path, seam) -> None:
    assert "--check needs a command" in refused(repo, seam, "--check", " ")


def test_a_malformed_configured_check_is_refused_before_any_call(repo: Path, seam) -> None:
    (repo / ".diffcrew.toml").write_text("checks = 'pytest'\n")
    git(repo, "add", ".diffcrew.toml")
    git(repo, "commit", "-q", "-m", "config")
    assert "checks must be a list" in refused(repo, seam)


# -- flags that cannot work together ------------------------------------------------------------

def test_quiet_and_verbose_together_are_refused(repo: Path, seam) -> None:
    assert "-q" in refused(repo, seam, "-q", "-v") and "-v" in refused(repo, seam, "--quiet", "--verbose")
    for command in (["demo", "-q", "-v"], ["replay", "20261122-153000-a1b2c3", "-q", "-v"]):
        result = run_cli(command)
        assert result.exit_code == ExitCode.USAGE and "contradict" in one_error(result.stderr)


def test_a_dry_run_cannot_push(repo: Path, seam) -> None:
    assert "nothing to --push" in refused(repo, seam, "--dry-run", "--push", "origin")


def test_pr_body_on_stdout_is_refused_where_stdout_is_taken(repo: Path, seam) -> None:
    assert "JSON report" in refused(repo, seam, "--json", "--pr-body", "-")
    assert "dry run's diff" in refused(repo, seam, "--dry-run", "--pr-body", "-")


def test_a_dry_run_checks_its_branch_name_and_makes_none(repo: Path, seam) -> None:
    git(repo, "branch", "taken")
    assert "already exists" in refused(repo, seam, "--dry-run", "--branch", "taken")


# -- honoured flags -----------------------------------------------------------------------------

def test_pr_body_dash_writes_the_body_to_stdout_and_the_result_to_stderr(repo: Path, seam,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--yes", "--pr-body", "-", REQUEST], seam)
    assert result.exit_code == 0, result.output
    assert not (repo / "-").exists()
    assert result.stdout.startswith("# ") and "## Reproduce" in result.stdout  # the Markdown body, alone
    assert "Branch diffcrew/" not in result.stdout
    (branch,) = diffcrew_branches(repo)
    assert f"Branch {branch}" in result.stderr


def test_a_dry_run_writes_its_pr_body_and_runs_the_checks(repo: Path, tmp_path: Path, seam) -> None:
    seam.set_script(four_file_script())
    body = tmp_path / "pr.md"
    marker = tmp_path / "checked"
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "--json", "--pr-body", str(body),
                      "--check", f"touch {marker}", REQUEST], seam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "dry-run" and report["branch"] is None and diffcrew_branches(repo) == []
    assert [c["name"] for c in report["checks"]] == ["syntax", f"touch {marker}"]
    assert marker.exists()  # the check ran (in the sandbox, on the change)
    text = body.read_text()
    assert "## Checks" in text and f"touch {marker}" in text and "No checks ran" not in text


def test_a_failing_check_in_a_dry_run_fails_it_as_it_would_fail_the_run(repo: Path, seam) -> None:
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", "--repair-rounds", "0", "--check", "test ! -e pkg/version.py",
                      REQUEST], seam)
    assert result.exit_code == ExitCode.FAILED
    assert "checks failed" in result.stderr and "diff --git" not in result.stdout


# -- a failure after the branch exists ----------------------------------------------------------

def broken_remote(repo: Path, tmp_path: Path) -> None:
    """A configured remote that answers (the check before the run passes) but refuses the push."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    git(repo, "remote", "add", "origin", str(remote))


def test_a_failed_push_names_the_branch_on_stdout_and_exits_6(repo: Path, tmp_path: Path, seam) -> None:
    broken_remote(repo, tmp_path)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--push", "origin", REQUEST], seam)
    assert result.exit_code == ExitCode.BRANCH_MADE == 6
    (branch,) = diffcrew_branches(repo)
    assert result.stdout.startswith(f"Branch {branch} (commit ")
    assert f"the branch {branch} was made, but pushing it to origin failed" in result.stderr
    assert f"the branch {branch} exists" in result.stderr and "nothing was changed" not in result.stderr


def test_a_failed_push_names_the_branch_in_the_json_report(repo: Path, tmp_path: Path, seam) -> None:
    broken_remote(repo, tmp_path)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--push", "origin", REQUEST], seam)
    assert result.exit_code == 6
    report = json.loads(result.stdout)
    (branch,) = diffcrew_branches(repo)
    assert report["status"] == "failed" and report["exit_code"] == 6
    assert report["branch"] == branch and report["commit"] and report["remote"] is None
    assert branch in report["errors"][0]


def test_a_pr_body_that_cannot_be_written_after_the_commit_names_the_branch(repo: Path, tmp_path: Path, seam,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The path passed the check before the run, then could not be written (a full disk, a race)."""
    seam.set_script(four_file_script())
    body = tmp_path / "out" / "pr.md"
    body.parent.mkdir()

    write_text = Path.write_text

    def full_disk(self: Path, *args: object, **kwargs: object) -> int:
        if self == body:
            raise OSError(28, "No space left on device")
        return write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full_disk)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--pr-body", str(body), REQUEST], seam)
    assert result.exit_code == 6, result.output
    report = json.loads(result.stdout)
    (branch,) = diffcrew_branches(repo)
    assert report["branch"] == branch and report["status"] == "failed"
    assert report["errors"][0].startswith(f"the branch {branch} was made, but the pull-request body could not be "
                                          "written") and "No space left" in report["errors"][0]


def test_ctrl_c_during_the_push_names_the_branch_on_stdout(repo: Path, tmp_path: Path, seam,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from diffcrew.tools.git import GitRepo

    broken_remote(repo, tmp_path)

    def interrupted_push(self: GitRepo, remote: str, branch: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(GitRepo, "push", interrupted_push)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "-q", "--push", "origin", REQUEST], seam)
    assert result.exit_code == ExitCode.INTERRUPTED
    (branch,) = diffcrew_branches(repo)
    assert result.stdout == f"Branch {branch}\n"
    assert f"interrupted after the branch {branch} was made" in one_error(result.stderr)
