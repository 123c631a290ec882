"""The commit as the repository wants it: signed as `git commit` would sign it, and saying which
models wrote it.

Signing is tried with an SSH key (gpg.format=ssh), which needs nothing but ssh-keygen, and checked
with `git verify-commit` against an allowed-signers file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import diffcrew_branches, git, make_repo, patch_turn, plan_turn, run_cli, snapshot, summary_turn, udiff
from diffcrew.agent import __version__
from diffcrew.tools.git import GitRepo

OLD, NEW = "def f():\n    return 1\n", "def f() -> int:\n    return 1\n"
MODELS = ["--orchestrator-model", "claude-mythos-5-2", "--worker-model", "claude-haiku-5-5",
          "--synthesizer-model", "claude-fable-5-1"]

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None,
                                      reason="ssh-keygen is not installed: SSH signing cannot be tried")


def script() -> dict[str, list[dict[str, object]]]:
    return {"orchestrator": [plan_turn("Type f.", [("m.py", "modify", "Add a return type to f.")])],
            "worker:m.py": [patch_turn(udiff("m.py", OLD, NEW))],
            "synthesizer": [summary_turn("Type f")]}


def signing_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose git config signs every commit with a fresh SSH key; and the key."""
    repo = make_repo(tmp_path / "repo", {"m.py": OLD})
    key = tmp_path / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True)
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key))
    git(repo, "config", "commit.gpgsign", "true")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"test@example.invalid {(tmp_path / 'signing_key.pub').read_text()}")
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(signers))
    return repo, key


def run(repo: Path, seam, *extra: str):
    seam.set_script(script())
    return run_cli(["run", "--repo", str(repo), "--yes", "--json", *MODELS, *extra, "type f"], seam)


def verified(repo: Path, commit: str) -> bool:
    return subprocess.run(["git", "verify-commit", commit], cwd=repo, capture_output=True).returncode == 0


@needs_ssh_keygen
def test_commit_gpgsign_signs_the_commit_with_the_users_key(tmp_path: Path, seam) -> None:
    repo, _ = signing_repo(tmp_path)
    before = snapshot(repo)
    result = run(repo, seam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "gpgsig" in git(repo, "cat-file", "commit", report["commit"])
    assert verified(repo, report["commit"])
    assert snapshot(repo) == before  # the checkout, index, HEAD and stash as they were


@needs_ssh_keygen
def test_no_sign_commits_unsigned_and_so_does_a_repository_that_does_not_ask(tmp_path: Path, seam) -> None:
    repo, _ = signing_repo(tmp_path)
    result = run(repo, seam, "--no-sign")
    assert result.exit_code == 0, result.output
    commit = json.loads(result.stdout)["commit"]
    assert "gpgsig" not in git(repo, "cat-file", "commit", commit) and not verified(repo, commit)
    git(repo, "config", "commit.gpgsign", "false")
    result = run(repo, seam, "--branch", "unsigned-by-config")
    assert "gpgsig" not in git(repo, "cat-file", "commit", json.loads(result.stdout)["commit"])
    result = run(repo, seam, "--sign", "--branch", "signed-by-flag")
    assert verified(repo, json.loads(result.stdout)["commit"])


@needs_ssh_keygen
def test_a_signing_setup_that_cannot_work_is_refused_before_any_model_call(tmp_path: Path, seam) -> None:
    repo, _ = signing_repo(tmp_path)
    git(repo, "config", "user.signingkey", str(tmp_path / "no-such-key"))
    before = snapshot(repo)
    result = run(repo, seam)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "commit.gpgsign asks for a signed commit, but signing the commit failed (" in lines[0]
    assert "--no-sign" in lines[0] and "?" not in lines[0]  # git's ssh-key error ends in one
    assert seam.requests == [] and diffcrew_branches(repo) == [] and snapshot(repo) == before
    git(repo, "config", "--unset", "commit.gpgsign")  # now only --sign asks for it
    (line,) = run(repo, seam, "--sign").stderr.strip().splitlines()
    assert line.startswith("diffcrew: error: --sign asks for a signed commit, but signing the commit failed (")
    assert "gpgsign" not in line and seam.requests == [] and diffcrew_branches(repo) == []


@needs_ssh_keygen
def test_signing_that_fails_at_the_commit_leaves_no_branch(tmp_path: Path, seam, monkeypatch) -> None:
    """The key passed the check before the run, then could not sign (an agent locked meanwhile)."""
    repo, key = signing_repo(tmp_path)
    monkeypatch.setattr(GitRepo, "check_signing", lambda self, base, asked_by: key.unlink())
    before = snapshot(repo)
    result = run(repo, seam)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and report["branch"] is None
    (error,) = report["errors"]
    assert error.startswith("signing the commit failed (") and "--no-sign" in error and "no branch was made" in error
    assert diffcrew_branches(repo) == [] and snapshot(repo) == before


def test_the_commit_names_diffcrew_and_the_models_in_its_trailers(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", {"m.py": OLD})
    result = run(repo, seam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    message = git(repo, "log", "-1", "--format=%B", report["commit"])
    trailers = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, capture_output=True,
                              text=True, check=True).stdout.splitlines()
    assert trailers == [f"Diffcrew-Run: {report['run_id']}", f"Generated-by: diffcrew {__version__}",
                        "Orchestrator-Model: claude-mythos-5-2", "Worker-Model: claude-haiku-5-5",
                        "Synthesizer-Model: claude-fable-5-1"]
