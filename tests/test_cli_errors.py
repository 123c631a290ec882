"""Bad input: one clear line on stderr, a non-zero exit, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import diffcrew_branches, make_repo, run_cli, snapshot


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("diffcrew: error: ")
    return lines[0]


def test_missing_key_names_the_variable_and_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "change x"],
                     env={"ANTHROPIC_API_KEY": None, "ANTHROPIC_AUTH_TOKEN": None})
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)
    assert "ANTHROPIC_API_KEY" in line and "export" in line
    assert snapshot(repo) == before and not (repo / ".git" / "diffcrew").exists()


def test_not_a_git_repository(tmp_path: Path, server) -> None:
    result = run_cli(["run", "--repo", str(tmp_path), "--yes", "change x"], server)
    assert result.exit_code == 2
    assert "not a git repository" in _one_error_line(result.stderr)


def test_unknown_base_ref(repo: Path, server) -> None:
    result = run_cli(["run", "--repo", str(repo), "--base", "no-such-branch", "--yes", "change x"], server)
    assert result.exit_code == 2
    assert "unknown base ref 'no-such-branch'" in _one_error_line(result.stderr)
    assert not server.requests and not (repo / ".git" / "diffcrew").exists()


def test_empty_request(repo: Path, server) -> None:
    for args, stdin in ((["   "], None), (["-"], "\n\n")):
        result = run_cli(["run", "--repo", str(repo), "--yes", *args], server, input=stdin)
        assert result.exit_code == 2
        assert "request is empty" in _one_error_line(result.stderr)
    assert not server.requests


def test_no_request_at_all(repo: Path, server) -> None:
    result = run_cli(["run", "--repo", str(repo), "--yes"], server)
    assert result.exit_code == 2
    assert "no change request" in _one_error_line(result.stderr)


def test_request_file_not_found(repo: Path, server) -> None:
    result = run_cli(["run", "--repo", str(repo), "--yes", "-F", str(repo / "missing.txt")], server)
    assert result.exit_code == 2
    assert "request file not found" in _one_error_line(result.stderr)


def test_empty_repository_without_commits(tmp_path: Path, server) -> None:
    from conftest import git

    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    result = run_cli(["run", "--repo", str(empty), "--yes", "change x"], server)
    assert result.exit_code == 2
    assert "no commits yet" in _one_error_line(result.stderr)


def test_invalid_branch_name(repo: Path, server) -> None:
    result = run_cli(["run", "--repo", str(repo), "--yes", "--branch", "bad..name", "change x"], server)
    assert result.exit_code == 2
    assert "not a valid branch name" in _one_error_line(result.stderr)
    assert diffcrew_branches(repo) == []


@pytest.mark.slow
def test_model_service_unreachable_fails_clean(repo: Path) -> None:
    before = snapshot(repo)
    result = run_cli(["run", "--repo", str(repo), "--yes", "change x"],
                     env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "could not reach the model service" in result.stderr
    assert snapshot(repo) == before and diffcrew_branches(repo) == []


def test_push_to_an_unknown_remote_is_refused_before_anything_runs(repo: Path, server) -> None:
    result = run_cli(["run", "--repo", str(repo), "--yes", "--push", "fix the bug"], server)
    assert result.exit_code == 2
    assert "did --push take 'fix the bug' as the remote name?" in _one_error_line(result.stderr)
    named = run_cli(["run", "--repo", str(repo), "--yes", "--push", "upstream", "fix the bug"], server)
    assert named.exit_code == 2 and "--push: no remote named 'upstream'" in _one_error_line(named.stderr)
    assert not server.requests and diffcrew_branches(repo) == []
