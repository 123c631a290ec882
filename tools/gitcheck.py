"""What git would refuse only after the model was paid, asked before the first model call: a
branch that cannot be created (not a valid name, or one that clashes with an existing branch as
a folder: git cannot hold both `main` and `main/sub`), and a push remote that cannot be reached.
"""

from __future__ import annotations

import os
import signal
import subprocess

import git

from diffcrew.tools.git import GitRepo, telling_line

REMOTE_TIMEOUT = 30.0  # seconds `git ls-remote` may take to answer before the run is refused
# git branch refuses these although `check-ref-format refs/heads/NAME` accepts them.
NOT_BRANCH_NAMES = ("@", "HEAD")


def valid_branch_name(repo: GitRepo, name: str) -> bool:
    """Whether git can make refs/heads/NAME a branch (`git check-ref-format`, and git branch's own rules)."""
    if name in NOT_BRANCH_NAMES or name.startswith("-"):
        return False
    try:
        repo.git.execute(["git", "check-ref-format", f"refs/heads/{name}"])
    except git.GitCommandError:
        return False
    return True


def clashing_branches(repo: GitRepo, name: str) -> list[str]:
    """The existing branches that refs/heads/NAME cannot be made beside: NAME itself, a branch named
    like one of its folders (`main` for `main/sub`), or the branches inside it (`diffcrew/x` for
    `diffcrew`). A valid name holds no glob character, so each pattern matches literally."""
    parts = name.split("/")
    folders = {f"refs/heads/{'/'.join(parts[:i])}" for i in range(1, len(parts))}
    own = f"refs/heads/{name}"
    listed = repo.git.execute(["git", "for-each-ref", "--format=%(refname)", *sorted(folders), own])
    return [ref.removeprefix("refs/heads/") for ref in listed.splitlines()
            if ref in folders or ref == own or ref.startswith(own + "/")]


def reach_remote(repo: GitRepo, remote: str, timeout: float = REMOTE_TIMEOUT) -> str | None:
    """None when `git ls-remote --heads REMOTE` answers within `timeout`, else why not (git's telling
    line). It never prompts: no terminal (a new session), GIT_TERMINAL_PROMPT=0, ssh in batch mode
    unless the user set their own ssh command."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "SSH_ASKPASS_REQUIRE": "never"}
    if not any(k in env for k in ("GIT_SSH_COMMAND", "GIT_SSH")) and not _configured(repo, "core.sshCommand"):
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    proc = subprocess.Popen(["git", "ls-remote", "--heads", "--end-of-options", remote], cwd=repo.root,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # git and its ssh or helper
        proc.communicate()
        return f"it did not answer within {timeout:g} s"
    except BaseException:  # Ctrl-C: nothing is left running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode == 0:
        return None
    return telling_line(err.decode("utf-8", "replace")) or f"git ls-remote exited with {proc.returncode}"


def _configured(repo: GitRepo, key: str) -> bool:
    try:
        repo.git.execute(["git", "config", "--get", key])
    except git.GitCommandError:
        return False
    return True

