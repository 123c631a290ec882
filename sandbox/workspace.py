"""The workspace: a temporary, detached git worktree at the base commit, owned by one run.

The synthesizer writes the merged result here and the checks run here, so the user's checkout is
never used. The worktree lives in the state folder, `<git-common-dir>/diffcrew/sandboxes/<name>/`
(`statedir.sandboxes_dir`): nothing is written outside the repository, and being inside the git
directory it never shows in the user's `git status`. Git commands run in it find its own `.git`
file first, so they see the sandbox's worktree and index, not the user's. It is added with hooks
disabled: `git worktree add` would otherwise run the user's post-checkout hook.

Ownership: before the worktree is added, a record (path, PID, process start time, host) is written
to <git-common-dir>/diffcrew/worktrees/. `remove()` deletes worktree and record; a run that dies
without removing them (kill -9, power loss) leaves a record whose process is gone, and
`prune_stale()` at the next start removes that worktree. Removal is targeted: we delete only our
own worktree's admin directory rather than run `git worktree prune`, which would also drop the
user's own worktrees that merely sit on an unmounted drive.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import time
from pathlib import Path
from types import TracebackType

from diffcrew.sandbox.process import kill_tagged, run_tag
from diffcrew.tools.errors import GitError, UsageError
from diffcrew.tools.git import GitRepo, TreeChange, TreeEntry
from diffcrew.tools.gitconst import EXECUTABLE_MODE, FILE_MODE, SYMLINK_MODE
from diffcrew.tools.liveness import process_alive, start_time
from diffcrew.tools.paths import path_problem
from diffcrew.tools.statedir import SANDBOX_PREFIX, sandboxes_dir, unwritable, worktrees_dir

# Command-level config (beats repo config): no hook of the user's runs in our worktree.
NO_HOOKS = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": os.devnull}
PREFIX = SANDBOX_PREFIX


def _registry(repo: GitRepo) -> Path:
    return worktrees_dir(repo.common_dir)


class Workspace:
    """A detached worktree at `base`; write results into it, run checks in it, then remove it."""

    def __init__(self, repo: GitRepo, base: str, run_id: str, path: Path, record: Path) -> None:
        self.repo, self.base, self.run_id = repo, base, run_id
        self.path, self.record = path, record
        self._written: set[str] = set()
        self._base_tree: dict[str, TreeEntry] | None = None
        self._removed = False

    @classmethod
    def create(cls, repo: GitRepo, base: str, run_id: str) -> "Workspace":
        """`git worktree add --detach` at base in a fresh folder of the state folder, owned by this process."""
        sandboxes = sandboxes_dir(repo.common_dir)
        try:
            sandboxes.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise unwritable(sandboxes, exc) from None
        path = sandboxes.resolve() / f"{PREFIX}{_safe(run_id)}-{secrets.token_hex(4)}"
        record = _registry(repo) / f"{path.name}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        # The record comes before the directory, so that a signal or crash at any later moment leaves
        # something to prune (here, or by the next run), never an unrecorded directory.
        _write_json(record, {"path": str(path), "pid": os.getpid(), "start": start_time(os.getpid()),
                             "host": socket.gethostname(), "run_id": run_id, "created": time.time(),
                             "pgid": None})
        workspace = cls(repo, base, run_id, path, record)
        try:
            path.mkdir(mode=0o700)
            repo._run("worktree", "add", "--detach", "--quiet", str(path), base, env=NO_HOOKS)
        except BaseException:
            workspace.remove()
            raise
        return workspace

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()

    def write(self, changes: list[TreeChange]) -> None:
        """Make the worktree equal to base + changes; files of an earlier write not in `changes` go back to base."""
        wanted = {change.path: change for change in changes}
        for path in wanted:
            _check_path(path)
        for path in sorted(self._written - wanted.keys()):
            entry = self.base_tree().get(path)
            self._put(path, None if entry is None else self.repo.read_blob(entry.blob),
                      entry.mode if entry else FILE_MODE)
        for change in changes:
            self._put(change.path, change.data, change.mode)
        self._written = set(wanted)

    def base_tree(self) -> dict[str, TreeEntry]:
        """The base commit's files by path (read once)."""
        if self._base_tree is None:
            self._base_tree = {entry.path: entry for entry in self.repo.ls_tree(self.base)}
        return self._base_tree

    def track(self, pgid: int | None) -> None:
        """Note the process group of the running check, so a later prune can stop it if we die."""
        try:
            data = json.loads(self.record.read_text())
            data["pgid"] = pgid
            _write_json(self.record, data)
        except (OSError, ValueError):
            pass  # bookkeeping only: a missing record must not fail a check

    def remove(self) -> None:
        """Remove the worktree, its temp dir, its admin dir and its record; safe to call twice."""
        if self._removed:
            return
        self._removed = True
        _remove_worktree(self.repo, self.path)
        self.record.unlink(missing_ok=True)

    def _put(self, rel: str, data: bytes | None, mode: str) -> None:
        target = self.path / rel
        if target.is_symlink() or target.is_file():
            target.unlink()
        if data is None:
            _prune_empty_dirs(target.parent, self.path)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == SYMLINK_MODE:
            os.symlink(data.decode("utf-8", "surrogateescape"), target)
            return
        target.write_bytes(data)
        if mode == EXECUTABLE_MODE:
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def prune_stale(repo: GitRepo) -> list[str]:
    """Remove diffcrew worktrees whose owning process is gone (kill -9, crash); return their paths."""
    pruned = []
    registry = _registry(repo)
    for record in sorted(registry.glob(f"{PREFIX}*.json")) if registry.is_dir() else []:
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            data = {}
        if data and _owner_alive(data):
            continue
        path = Path(data.get("path") or sandboxes_dir(repo.common_dir) / record.stem)
        # Only ever delete a directory we would have made (a record of an older diffcrew names one in the
        # system temp directory): a damaged record must not aim rmtree elsewhere.
        if path.is_absolute() and path.name.startswith(PREFIX):
            if data.get("pgid"):
                _stop_orphans(int(data["pgid"]), path)
            if data.get("pid") and data.get("start") is not None:  # what its checks started outside their group
                kill_tagged(run_tag(int(data["pid"]), int(data["start"])) + "-", prefix=True)
            _remove_worktree(repo, path)
        record.unlink(missing_ok=True)
        pruned.append(str(path))
    return pruned


def _remove_worktree(repo: GitRepo, path: Path) -> None:
    """`worktree remove -f -f` (also when locked mid-add), then clean up whatever it left."""
    if path.exists():
        try:
            repo._run("worktree", "remove", "--force", "--force", str(path))
        except GitError:
            pass  # not (or no longer) a registered worktree: the fallbacks below finish the job
    _rmtree(path)
    admin = _admin_dir(repo, path)
    if admin is not None:
        shutil.rmtree(admin, ignore_errors=True)


def _admin_dir(repo: GitRepo, path: Path) -> Path | None:
    """The `.git/worktrees/<id>` directory that belongs to the worktree at `path`, if any is left."""
    root = repo.common_dir / "worktrees"
    if not root.is_dir():
        return None
    for admin in root.iterdir():
        try:
            gitdir = Path((admin / "gitdir").read_text().strip())
        except OSError:
            continue
        if gitdir.parent == path or gitdir.parent.resolve() == path.resolve():
            return admin
    return None


def _owner_alive(data: dict[str, object]) -> bool:
    if data.get("host") not in (None, socket.gethostname()):
        return True  # another machine's run (shared repo): we cannot tell, so leave it alone
    pid, start = data.get("pid"), data.get("start")
    return process_alive(pid if isinstance(pid, int) else 0, start if isinstance(start, int) else None)


def _stop_orphans(pgid: int, path: Path) -> None:
    """Kill a dead run's check processes, but only those whose cwd is inside its worktree (PID reuse)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == path or path in cwd.parents:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
            return


def _check_path(path: str) -> None:
    problem = path_problem(path)
    if problem:
        raise UsageError(f"refusing to write {path!r} in the workspace: {problem}")


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _rmtree(root: Path) -> None:
    """Delete `root`; a check may leave read-only files or dirs in it, so make those writable and retry.

    Permissions are only ever changed inside `root`: never on its parent (the sandboxes folder).
    """
    def retry(func: object, path: str, exc_info: object) -> None:
        target = Path(path)
        if target != root and root not in target.parents:
            return
        try:
            if target.parent == root or root in target.parent.parents:
                os.chmod(target.parent, stat.S_IRWXU)
            if target.is_dir() and not target.is_symlink():
                os.chmod(target, stat.S_IRWXU)
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
        except OSError:
            pass

    if root.exists() or root.is_symlink():
        shutil.rmtree(root, onerror=retry)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40] or "run"


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
