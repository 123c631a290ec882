"""The workspace: a temporary worktree at the base commit that never touches the user's checkout."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import git, make_repo, snapshot

from diffcrew.sandbox.workspace import Workspace, prune_stale
from diffcrew.tools.errors import UsageError
from diffcrew.tools.git import GitRepo, TreeChange
from diffcrew.tools.statedir import sandboxes_dir

FILES = {"a.py": "A = 1\n", "pkg/b.py": "B = 2\n", "run.sh": "#!/bin/sh\necho hi\n"}


def worktrees(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def setup(tmp_path: Path) -> tuple[Path, GitRepo, str]:
    root = make_repo(tmp_path / "repo", FILES)
    return root, GitRepo(root), git(root, "rev-parse", "HEAD").strip()


def test_create_write_remove_leaves_the_checkout_alone(tmp_path: Path) -> None:
    root, repo, base = setup(tmp_path)
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path / 'hook-ran'}\n")
    hook.chmod(0o755)
    (root / "a.py").write_text("A = 'uncommitted'\n")  # the user's own edit stays theirs
    before = snapshot(root)
    with Workspace.create(repo, base, "t1") as ws:
        assert ws.path.parent == sandboxes_dir(repo.common_dir).resolve()  # in the state folder, not /tmp
        assert stat.S_IMODE(ws.path.parent.stat().st_mode) == 0o700
        assert (ws.path / "a.py").read_text() == "A = 1\n"
        assert git(ws.path, "rev-parse", "HEAD").strip() == base
        # git inside the sandbox (and below its root) sees the sandbox's worktree, not the user's
        assert git(ws.path / "pkg", "rev-parse", "--show-toplevel").strip() == str(ws.path)
        assert git(ws.path, "rev-parse", "--path-format=absolute", "--git-common-dir").strip() == \
            str(repo.common_dir)
        assert git(ws.path, "status", "--porcelain") == ""
        ws.write([TreeChange("a.py", b"A = 3\n"), TreeChange("new/c.py", b"C = 1\n"), TreeChange("pkg/b.py", None)])
        assert (ws.path / "a.py").read_text() == "A = 3\n"
        assert (ws.path / "new" / "c.py").read_text() == "C = 1\n"
        assert not (ws.path / "pkg").exists()
        assert len(worktrees(root)) == 2
        git(ws.path, "add", "-A")  # a check staging in the sandbox stages there only
        assert git(ws.path, "status", "--porcelain").splitlines() == ["M  a.py", "A  new/c.py", "D  pkg/b.py"]
        assert snapshot(root) == before  # the user's tree, index, HEAD, refs, stash and `git status`
    assert not ws.path.exists()
    assert worktrees(root) == [str(root)]
    assert not (tmp_path / "hook-ran").exists(), "the user's post-checkout hook ran"
    assert snapshot(root) == before
    assert not list((repo.common_dir / "diffcrew" / "worktrees").iterdir())


def test_write_is_idempotent_and_resets_earlier_files(tmp_path: Path) -> None:
    root, repo, base = setup(tmp_path)
    with Workspace.create(repo, base, "t2") as ws:
        ws.write([TreeChange("a.py", b"A = 3\n"), TreeChange("new.py", b"N = 1\n"), TreeChange("pkg/b.py", None),
                  TreeChange("tool.sh", b"#!/bin/sh\n", "100755")])
        assert os.access(ws.path / "tool.sh", os.X_OK)
        ws.write([TreeChange("a.py", b"A = 4\n")])
        ws.write([TreeChange("a.py", b"A = 4\n")])
        assert (ws.path / "a.py").read_text() == "A = 4\n"
        assert not (ws.path / "new.py").exists() and not (ws.path / "tool.sh").exists()
        assert (ws.path / "pkg" / "b.py").read_text() == "B = 2\n"
        assert git(ws.path, "status", "--porcelain").splitlines() == [" M a.py"]


def test_write_refuses_paths_outside_the_workspace(tmp_path: Path) -> None:
    _, repo, base = setup(tmp_path)
    with Workspace.create(repo, base, "t3") as ws:
        for bad in ("../escape.py", "/etc/passwd", ".git/config", "a/../../b"):
            with pytest.raises(UsageError):
                ws.write([TreeChange(bad, b"x")])
    assert not (tmp_path / "escape.py").exists()


def test_removed_after_an_exception_and_safe_to_remove_twice(tmp_path: Path) -> None:
    root, repo, base = setup(tmp_path)
    sandboxes = sandboxes_dir(repo.common_dir)
    with pytest.raises(RuntimeError):
        with Workspace.create(repo, base, "t4") as ws:
            (ws.path / "junk").mkdir()
            (ws.path / "junk" / "ro.txt").write_text("x")
            (ws.path / "junk").chmod(0o500)  # a check may leave read-only directories behind
            raise RuntimeError("boom")
    assert not ws.path.exists()
    ws.remove()
    assert worktrees(root) == [str(root)]
    # cleanup never touches the sandboxes folder itself
    assert stat.S_IMODE(sandboxes.stat().st_mode) == 0o700 and list(sandboxes.iterdir()) == []


def test_prune_stale_removes_the_worktree_of_a_killed_run_only(tmp_path: Path) -> None:
    root, repo, base = setup(tmp_path)
    script = textwrap.dedent("""
        import sys, time
        from diffcrew.tools.git import GitRepo
        from diffcrew.sandbox.workspace import Workspace
        ws = Workspace.create(GitRepo(sys.argv[1]), sys.argv[2], "child")
        print(ws.path, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script, str(root), base], stdout=subprocess.PIPE, text=True)
    try:
        stale = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
        assert stale.is_dir()
        with Workspace.create(repo, base, "alive") as mine:
            assert prune_stale(repo) == []  # the child still runs: not stale
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            assert prune_stale(repo) == [str(stale)]
            assert not stale.exists()
            assert worktrees(root) == [str(root), str(mine.path)]
            assert mine.path.is_dir()
        assert prune_stale(repo) == []
    finally:
        child.kill()
        child.wait()
    assert worktrees(root) == [str(root)]


def test_prune_stale_still_removes_a_sandbox_an_older_diffcrew_left_in_the_temp_directory(tmp_path: Path) -> None:
    """Before sandboxes moved into the state folder they lived in the system temp directory; a record
    of a killed run of that version names one there, and the next run still removes it."""
    root, repo, base = setup(tmp_path)
    old = tmp_path / "elsewhere" / "diffcrew-wt-old-1a2b3c4d"
    old.parent.mkdir()
    git(root, "worktree", "add", "--detach", "-q", str(old), base)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid whose process is gone
    record = sandboxes_dir(repo.common_dir).parent / "worktrees" / f"{old.name}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"path": str(old), "pid": dead.pid, "start": None, "host": None}))
    assert prune_stale(repo) == [str(old)]
    assert not old.exists() and not record.exists() and worktrees(root) == [str(root)]
