"""Apply a (possibly sloppy, multi-file) diff to a directory: every file or none.

Used by `diffcrew apply`. Paths are confined to the root: no absolute paths, no `..`, nothing
under `.git`, and no path that goes through a symbolic link (a link could lead outside). Every
file is patched in memory first; only when all of them succeed is anything written, each file
through a temporary file and an atomic rename, with the originals restored if a write fails.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from diffcrew.tools.errors import PatchError, UsageError
from diffcrew.tools.patch import HunkReport, apply_diff, split_diff


@dataclass(frozen=True)
class FileChange:
    """One file's outcome: its new bytes (None: delete) and how each hunk was placed."""

    path: str
    action: str  # "modify" | "create" | "delete"
    old: bytes | None
    new: bytes | None
    hunks: tuple[HunkReport, ...]


class ApplyRefused(PatchError):
    """One or more files could not be patched; `reasons` has one line per failing file/hunk."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = reasons


def find_root(start: Path) -> Path:
    """The top of the git checkout holding `start` (the directory itself when there is none)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def confined(root: Path, path: str) -> Path:
    """The file for a diff path, or UsageError when the path may not be written."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"{path}: not a plain path inside the repository")
    if parts[0].lower() == ".git":
        raise UsageError(f"{path}: files under .git are never patched")
    target = root.joinpath(*parts)
    for folder in [root.joinpath(*parts[:i]) for i in range(1, len(parts) + 1)]:
        if folder.is_symlink():
            raise UsageError(f"{path}: goes through a symbolic link ({folder.relative_to(root)}); not patched")
    if not str(target.resolve()).startswith(str(root.resolve()) + os.sep):
        raise UsageError(f"{path}: resolves outside the repository")
    return target


def _diff_path(old: str | None, new: str | None) -> str:
    if old and new and old != new:
        raise UsageError(f"{old} -> {new}: renames are not supported")
    if new is None and old is None:
        raise UsageError("a diff section names no file; give it ---/+++ headers")
    return new or old or ""


def plan_changes(root: Path, text: str) -> list[FileChange]:
    """Patch every file of the diff in memory; ApplyRefused lists every failure, nothing is written."""
    changes, reasons = [], []
    try:
        sections = split_diff(text)
    except PatchError as exc:
        raise ApplyRefused([exc.summary]) from None
    for section in sections:
        try:
            path = _diff_path(section.old_path, section.new_path)
            target = confined(root, path)
        except UsageError as exc:
            reasons.append(str(exc))
            continue
        old = target.read_bytes() if target.is_file() else None
        try:
            old_text = None if old is None else old.decode("utf-8")
        except UnicodeDecodeError:
            reasons.append(f"{path}: not UTF-8 text; not patched")
            continue
        try:
            applied = apply_diff(old_text, section.text, path)
        except PatchError as exc:
            reasons.extend(_reasons(path, exc))
            continue
        new = None if applied.new_text is None else applied.new_text.encode("utf-8")
        kind = "delete" if new is None else "create" if old is None else "modify"
        changes.append(FileChange(path, kind, old, new, applied.hunks))
    if reasons:
        raise ApplyRefused(reasons)
    return changes


def _reasons(path: str, exc: PatchError) -> list[str]:
    """One line per failing hunk (or one for the whole diff)."""
    failures = getattr(exc, "failures", ())
    if not failures:
        return [exc.summary]
    return [f"{path}: hunk {f.hunk}: {f.summary}" if f.hunk else f"{path}: {f.summary}" for f in failures]


def write_changes(root: Path, changes: list[FileChange]) -> None:
    """Write all changes, each atomically; if one fails, put back every file already written."""
    done: list[FileChange] = []
    try:
        for change in changes:
            _write_one(root / change.path, change)
            done.append(change)
    except OSError:
        for change in reversed(done):
            target = root / change.path
            if change.old is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(change.old)
        raise


def _write_one(target: Path, change: FileChange) -> None:
    if change.new is None:
        target.unlink()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".diffcrew")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(change.new)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
