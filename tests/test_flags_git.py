"""What git would refuse only after the model was paid is asked before the first model call: a
--pr-body that would overwrite the repository's own files, a branch name git cannot make, a
--push remote that cannot be reached; and git's errors after the commit are told in full."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import diffcrew_branches, git, make_repo, run_cli, snapshot
from diffcrew.tools.errors import ExitCode
from scenarios import FILES, four_file_script
from test_flags_first import REQUEST, broken_remote, one_error


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", FILES)


def refused(repo: Path, seam, *args: str, main: Path | None = None) -> str:
    """The one error line of a run refused as a usage error: no model call, every ref and file as it
    was (those of `main`, the main worktree, for a run in a linked one)."""
    seam.set_script(four_file_script())
    watched = main or repo
    before, refs = snapshot(watched), git(repo, "for-each-ref")
    result = run_cli(["run", "--repo", str(repo), "--yes", *args, REQUEST], seam)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert seam.requests == [] and result.stdout == ""
    assert snapshot(watched) == before and git(repo, "for-each-ref") == refs
    return one_error(result.stderr)


# -- --pr-body never overwrites what is the repository's -----------------------------------------

def test_a_pr_body_on_a_tracked_file_with_edits_is_refused(repo: Path, seam, monkeypatch: pytest.MonkeyPatch) -> None:
    edited = repo / "pkg" / "mod.py"
    edited.write_text("# my uncommitted work\n")
    monkeypatch.chdir(repo / "pkg")  # relative to the current directory, as the file would be written
    line = refused(repo, seam, "--pr-body", "mod.py")
    assert "--pr-body mod.py: that file is tracked in the repository" in line
    assert edited.read_text() == "# my uncommitted work\n"


def test_a_pr_body_through_a_symlink_to_a_tracked_file_is_refused(repo: Path, tmp_path: Path, seam) -> None:
    link = tmp_path / "pr.md"
    link.symlink_to(repo / "README.md")
    assert "tracked in the repository" in refused(repo, seam, "--pr-body", str(link))
    assert (repo / "README.md").read_text() == "# demo\n"


def test_a_pr_body_inside_the_git_directory_is_refused(repo: Path, seam, monkeypatch: pytest.MonkeyPatch) -> None:
    description = repo / ".git" / "description"
    kept = description.read_bytes()
    monkeypatch.chdir(repo)
    for name in (".git/description", ".git/new-file", ".git"):
        line = refused(repo, seam, "--pr-body", name)
        assert "inside the repository's git directory" in line or "is a directory" in line, line
    assert description.read_bytes() == kept and not (repo / ".git" / "new-file").exists()


def test_a_pr_body_inside_a_linked_worktrees_common_dir_is_refused(repo: Path, tmp_path: Path, seam) -> None:
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", str(linked), "-b", "side")
    line = refused(linked, seam, "--pr-body", str(repo / ".git" / "config"), main=repo)
    assert "inside the repository's git directory" in line
    gitfile = refused(linked, seam, "--pr-body", str(linked / ".git"), main=repo)  # the file naming its git dir
    assert "inside the repository's git directory" in gitfile


def test_a_pr_body_on_the_work_tree_itself_is_refused(repo: Path, seam) -> None:
    assert "--pr-body" in refused(repo, seam, "--pr-body", str(repo))


def test_an_untracked_or_outside_pr_body_is_overwritten(repo: Path, tmp_path: Path, seam,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "pr.md").write_text("old body\n")  # untracked: the user's own output file, like curl -o
    monkeypatch.chdir(repo)
    seam.set_script(four_file_script())
    result = run_cli(["run", "--yes", "-q", "--pr-body", "pr.md", REQUEST], seam)
    assert result.exit_code == 0, result.output
    assert (repo / "pr.md").read_text().startswith("# ")


# -- a branch git cannot make is refused before the first call ------------------------------------

def test_the_default_branch_beside_a_branch_named_diffcrew_is_refused(repo: Path, seam) -> None:
    git(repo, "branch", "diffcrew")
    line = refused(repo, seam)
    assert "existing branch 'diffcrew'" in line and "--branch" in line


def test_a_dry_run_is_not_refused_for_the_default_name_it_does_not_make(repo: Path, seam) -> None:
    git(repo, "branch", "diffcrew")
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--dry-run", REQUEST], seam)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("diff --git")


def test_a_branch_inside_an_existing_branch_is_refused(repo: Path, seam) -> None:
    assert "existing branch 'main'" in refused(repo, seam, "--branch", "main/sub")


def test_a_branch_over_existing_branches_is_refused(repo: Path, seam) -> None:
    git(repo, "branch", "diffcrew/old-run-abc123")
    line = refused(repo, seam, "--branch", "diffcrew")
    assert "existing branch 'diffcrew/old-run-abc123'" in line and "pass another --branch" in line
    assert "already exists" in refused(repo, seam, "--branch", "diffcrew/old-run-abc123")


@pytest.mark.parametrize("name", ["@", "HEAD", "a..b", "x.lock", "a@{1}"])
def test_a_branch_name_git_does_not_allow_is_refused(repo: Path, seam, name: str) -> None:
    assert "not a valid branch name" in refused(repo, seam, "--branch", name)


def test_a_branch_clash_found_at_the_commit_is_told_in_full(repo: Path, seam, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process made `diffcrew` after the check: git's whole reason, not cut mid-quote."""
    import diffcrew.agent.run as run_module

    monkeypatch.setattr(run_module, "clashing_branches", lambda repo, name: [])
    git(repo, "branch", "diffcrew")
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "-q", REQUEST], seam)
    assert result.exit_code == ExitCode.FAILED, result.output
    line = one_error(result.stderr.split("diffcrew: nothing was changed")[0])
    assert "'refs/heads/diffcrew' exists; cannot create 'refs/heads/diffcrew/" in line
    assert line.endswith("'); no branch was made: pass another --branch")
    assert diffcrew_branches(repo) == []


# -- --push: the remote must answer before the run, and git's telling line after it ----------------

def test_an_unreachable_push_remote_is_refused_with_gits_reason(repo: Path, tmp_path: Path, seam) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    line = refused(repo, seam, "--push", "origin")
    assert "--push origin: the remote cannot be reached (fatal: '" in line
    assert "gone.git' does not appear to be a git repository)" in line


def test_a_reachable_push_remote_passes(repo: Path, tmp_path: Path, seam) -> None:
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--push", "origin", REQUEST], seam)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["remote"] == "origin"


def test_a_push_that_fails_after_the_commit_says_why(repo: Path, tmp_path: Path, seam,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The remote went away between the check and the push: git's fatal line, not its last advice line."""
    import diffcrew.agent.run as run_module

    monkeypatch.setattr(run_module, "reach_remote", lambda repo, remote: None)
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--push", "origin", REQUEST], seam)
    assert result.exit_code == ExitCode.BRANCH_MADE, result.output
    error = json.loads(result.stdout)["errors"][0]
    assert "pushing it to origin failed: git push failed: fatal: '" in error
    assert "does not appear to be a git repository" in error and "and the repository exists" not in error


def test_a_push_rejected_by_the_remote_names_the_rejection(repo: Path, tmp_path: Path, seam) -> None:
    broken_remote(repo, tmp_path)  # answers ls-remote, its pre-receive hook refuses every push
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--push", "origin", REQUEST], seam)
    assert result.exit_code == ExitCode.BRANCH_MADE, result.output
    assert "(pre-receive hook declined)" in json.loads(result.stdout)["errors"][0]


def test_a_remote_that_does_not_answer_is_given_up(repo: Path, tmp_path: Path) -> None:
    from diffcrew.tools.git import GitRepo
    from diffcrew.tools.gitcheck import reach_remote

    server, pid = tmp_path / "silent-server", tmp_path / "server.pid"  # a transport that never answers
    server.write_text(f"#!/bin/sh\necho $$ > {pid}\nexec sleep 60\n")
    server.chmod(0o755)
    git(repo, "config", "protocol.ext.allow", "always")
    git(repo, "remote", "add", "slow", f"ext::{server}")
    assert reach_remote(GitRepo(repo), "slow", timeout=1) == "it did not answer within 1 s"
    status = Path(f"/proc/{pid.read_text().strip()}/status")

    def gone() -> bool:
        try:
            return "State:\tZ" in status.read_text()
        except FileNotFoundError:
            return True

    # SIGKILL is delivered when the process is next scheduled: on a loaded machine it may still show as
    # running for a moment. A helper left running would still be there after 60 s; 10 s is ample.
    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), status.read_text()  # killed with git, not left running


def test_the_telling_line_of_gits_stderr() -> None:
    from diffcrew.tools.git import telling_line

    ssh = ("ssh: connect to host example.invalid port 22: Connection refused\r\n"
           "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\n"
           "and the repository exists.\n")
    assert telling_line(ssh) == ("ssh: connect to host example.invalid port 22: Connection refused; "
                                 "fatal: Could not read from remote repository.")
    rejected = ("remote: protected\nTo /srv/r.git\n ! [remote rejected] b -> b (pre-receive hook declined)\n"
                "error: failed to push some refs to '/srv/r.git'\n")
    assert telling_line(rejected) == "! [remote rejected] b -> b (pre-receive hook declined)"
    assert telling_line("hint: one\nerror: it broke\nhint: two\n") == "error: it broke"
    assert telling_line("just this\n") == "just this" and telling_line("") == ""
