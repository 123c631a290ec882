"""Apply a (possibly sloppy, multi-file) diff to a directory: every file or none.

Used by `diffcrew apply`. Paths follow the shared rule of tools.paths (relative, no `..`, no control
character, no `.git` part at any depth or case, no over-long name); a path may not go through a
symbolic link (a link could lead outside) nor name a directory; the rule applies to the path a
header resolves to (tools/_apply_targets). Sections for the same file apply in order; a rename
deletes the old path and creates the new one. Every file is patched in memory first; only when all
of them succeed is anything written, each file through a temporary file and an atomic rename, with
the originals restored and the directories made for them removed if a write fails.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from diffcrew.tools.applybinary import binary_bytes, binary_diff
from diffcrew.tools._patch_binary import index_ids, matches_id
from diffcrew.tools.eolattrs import checkout_bytes
from diffcrew.tools.errors import PatchError, UsageError
from diffcrew.tools.paths import PathRefused, RepoPath
from diffcrew.tools._apply_targets import Target, Tree, target_for
from diffcrew.tools._patch_parse import Section, parse_diff
from diffcrew.tools.patch import HunkReport, apply_diff


@dataclass(frozen=True)
class FileChange:
    """One file's outcome: its new bytes (None: delete) and how each hunk was placed."""

    path: str
    action: str  # "modify" | "create" | "delete"
    old: bytes | None
    new: bytes | None
    hunks: tuple[HunkReport, ...]
    mode: int | None = None  # the git mode the diff sets (0o100755: executable), None: keep or default
    old_mode: int | None = None  # the git mode before the patch (a rename's: its source's; None: a new file)
    source: str | None = None  # a rename's or copy's original file
    resolved: str | None = None  # how a header that was not an exact path was resolved, for the user

    @property
    def changed(self) -> bool:
        """Whether the change does anything: other bytes, or another executable bit."""
        if self.old != self.new or self.source is not None:
            return True
        return self.mode is not None and self.old_mode is not None and (self.mode ^ self.old_mode) & 0o111 != 0


class WriteFailed(PatchError):
    """Writing a file failed (disk full, permissions); everything written before it was put back."""


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
    try:
        parts = list(RepoPath.parse(path).parts)
    except PathRefused as refused:
        raise UsageError(f"{path!r}: not a plain path inside the repository: {refused.problem}") from None
    target = root.joinpath(*parts)
    for i, folder in enumerate(root.joinpath(*parts[:i]) for i in range(1, len(parts) + 1)):
        if folder.is_symlink():
            raise UsageError(f"{path}: goes through a symbolic link ({folder.relative_to(root)}); not patched")
        if i < len(parts) - 1 and folder.exists() and not folder.is_dir():
            raise UsageError(f"{path}: {'/'.join(parts[:i + 1])} is a file, not a directory; not patched")
    if target.exists() and not target.is_file():
        raise UsageError(f"{path}: a directory, not a file; not patched")
    if not str(target.resolve()).startswith(str(root.resolve()) + os.sep):
        raise UsageError(f"{path}: resolves outside the repository")
    return target


def plan_changes(root: Path, text: str) -> list[FileChange]:
    """Patch every file of the diff in memory; ApplyRefused lists every failure, nothing is written.

    Each section applies to the file its headers resolve to (see _apply_targets), in order, each
    to the result of the ones before: two code blocks of a chat answer, or the mails of a
    format-patch series that change one file twice. A rename is a deletion of the old path plus
    a creation of the new one with the old file's content (patched) and mode; a copy only the latter.
    """
    try:
        sections = parse_diff(text)
    except PatchError as exc:
        raise ApplyRefused([exc.summary]) from None
    changes: dict[str, FileChange] = {}
    tree = Tree(root, lambda path: changes[path].new is not None if path in changes else None)
    mail = _Mail(-1, {}, frozenset())
    reasons: list[str] = []
    for section in sections:
        if section.mail != mail.number:
            mail = _Mail(section.mail, dict(changes), _renamed_away(sections, section.mail))
        try:
            target = target_for(tree, section, partial(_fits, changes, root, section))
            _apply_section(changes, mail, root, section, target)
        except UsageError as exc:
            reasons.append(str(exc))
        except _Failed as exc:
            reasons.extend(exc.reasons)
    if reasons:
        raise ApplyRefused(reasons)
    _checkout_endings(root, changes)
    return [c for c in changes.values() if not (c.old is None and c.new is None)]


@dataclass(frozen=True)
class _Mail:
    """The diff, or one mail of a format-patch series: its sections change the files at once, as git
    applies one patch, so renames and copies read their sources as the mail found them."""

    number: int
    start: dict[str, FileChange]  # the files as the mail found them (empty: as they are on disk)
    leaving: frozenset[str]  # the paths its renames move away: another rename may move a file onto them


def _renamed_away(sections: list[Section], mail: int) -> frozenset[str]:
    return frozenset(s.old_path for s in sections if s.mail == mail and s.renamed and s.old_path)


def _checkout_endings(root: Path, changes: dict[str, FileChange]) -> None:
    """Created files get the line endings git would check them out with (.gitattributes, core.autocrlf)."""
    created = {path: c.new for path, c in changes.items() if c.old is None and c.new is not None}
    for path, data in checkout_bytes(root, created).items():
        changes[path] = replace(changes[path], new=data)


class _Failed(Exception):
    """One section's hunks failed; `reasons` has a line per failure."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = reasons


def _current(changes: dict[str, FileChange], root: Path, path: str) -> FileChange:
    return changes.get(path) or _original(root, path)


def _fits(changes: dict[str, FileChange], root: Path, section: Section, path: str) -> bool:
    """Whether every hunk of a header-less section applies to `path` as it is now."""
    try:
        _patched(_current(changes, root, path), section.body)
    except (_Failed, UsageError):
        return False
    return True


def _apply_section(changes: dict[str, FileChange], mail: _Mail, root: Path, section: Section, target: Target) -> None:
    """Record the section's effect on `changes` (UsageError or _Failed when it cannot apply)."""
    if stat.S_ISLNK(section.mode or 0) or stat.S_ISLNK(section.old_mode or 0):
        raise UsageError(f"{target.path}: a symbolic link (mode 120000); not patched, apply it with `git apply`")
    text = _retargeted(section, target)
    if target.source is not None:
        change = _moved(changes, mail, root, target)
    else:
        change = _current(changes, root, target.path)
    if section.hunks or section.created or section.deleted or section.binary or not _mode_only(section):
        _check_whole_deletion(section, change)
        change = _patched(change, text)
    elif change.new is None:
        raise UsageError(f"{target.path}: does not exist; its mode cannot change")
    if section.mode is not None:
        change = replace(change, mode=section.mode)
    changes[target.path] = replace(change, resolved=change.resolved or target.resolved)


def _check_whole_deletion(section: Section, change: FileChange) -> None:
    """A deletion with no hunks (git writes one for an empty file) deletes only an empty file, or
    the very blob its `index` line names: a file with content the diff never shows is the user's."""
    if not section.deleted or section.hunks or section.binary or not change.new:
        return
    ids = index_ids(section.text)
    if ids is None or not matches_id(change.new, ids[0]):
        raise UsageError(f"{change.path}: the diff deletes it as an empty file, but it has content; not deleted")


def _mode_only(section: Section) -> bool:
    """git's 'old mode'/'new mode' (or a rename/copy) with no hunks: the content stays as it is."""
    return section.mode is not None or section.renamed or section.copied


def _moved(changes: dict[str, FileChange], mail: _Mail, root: Path, target: Target) -> FileChange:
    """The new file of a rename or copy, holding the source's content and mode.

    As git does, a copy reads its source as the mail found it (another section may change it), and
    so does a rename whose source an earlier rename of the mail moved a file onto: a swap (a -> b,
    b -> a) or a chain (a -> b, b -> c) moves the files that were there.
    """
    path = target.source or ""
    overwritten = path in changes and changes[path].source is not None and changes[path] is not mail.start.get(path)
    source = _current(mail.start if target.kind == "copy" or overwritten else changes, root, path)
    if source.new is None:
        raise UsageError(f"{target.kind} of {target.source}: it does not exist; not patched")
    before = _current(changes, root, target.path)
    if before.new is not None and target.path not in mail.leaving:
        raise UsageError(f"{target.kind} of {target.source} to {target.path}: {target.path} already exists; "
                         "not patched")
    if target.kind == "rename" and not overwritten:
        changes[path] = replace(_current(changes, root, path), action="delete", new=None)
    mode = source.mode or source.old_mode
    return FileChange(target.path, target.kind, before.old, source.new, (), mode=mode, old_mode=mode,
                      source=source.path)


def _retargeted(section: Section, target: Target) -> str:
    """The section's text with headers that name `target` (the section alone, when its names already do)."""
    if target.source is None and {section.old_path, section.new_path} <= {None, target.path}:
        return section.text
    old = "/dev/null" if section.created else f"a/{target.path}"
    new = "/dev/null" if section.deleted else f"b/{target.path}"
    return f"--- {old}\n+++ {new}\n{section.body}"


def _original(root: Path, path: str) -> FileChange:
    """The file as it is before the patch, as a change that changes nothing yet."""
    target = confined(root, path)
    if not target.is_file():
        return FileChange(path, "create", None, None, ())
    old = target.read_bytes()
    mode = 0o100755 if target.stat().st_mode & 0o100 else 0o100644
    return FileChange(path, "modify", old, old, (), old_mode=mode)


def _patched(change: FileChange, section: str) -> FileChange:
    """`change` with one more section of the diff applied to its current result."""
    path = change.path
    binary = binary_diff(section)  # git's binary patch: exact bytes, all checked (tools.applybinary)
    if binary is not None:
        try:
            exact = binary_bytes(change.new, binary, path)
        except PatchError as exc:
            raise _Failed([exc.summary]) from None
        return replace(change, action=_action(change, exact), new=exact)
    if change.new is not None and b"\0" in change.new:
        raise _Failed([f"{path}: a binary file (it has NUL bytes); diffcrew does not apply text hunks to binary "
                       "files: apply this patch with `git apply`, or give a `git diff --binary` patch"])
    # Decoded reversibly: bytes that are not UTF-8 (Latin-1 text) come back out exactly as they were.
    current = None if change.new is None else change.new.decode("utf-8", errors="surrogateescape")
    try:
        applied = apply_diff(current, section, path)
    except PatchError as exc:
        raise _Failed(_reasons(path, exc, len(change.hunks))) from None
    new = None if applied.new_text is None else applied.new_text.encode("utf-8", errors="surrogateescape")
    hunks = tuple(replace(h, index=h.index + len(change.hunks)) for h in applied.hunks)
    return replace(change, action=_action(change, new), new=new, hunks=change.hunks + hunks)


def _action(change: FileChange, new: bytes | None) -> str:
    """What the file's change is once its new bytes are `new` (a rename or copy stays one)."""
    if new is None:
        return "delete"
    return change.action if change.source else "create" if change.old is None else "modify"


def _reasons(path: str, exc: PatchError, before: int = 0) -> list[str]:
    """One line per failing hunk (or one for the whole diff); hunks are numbered across the file's sections."""
    failures = getattr(exc, "failures", ())
    if not failures:
        return [exc.summary]
    return [f"{path}: hunk {f.hunk + before}: {f.summary}" if f.hunk else f"{path}: {f.summary}" for f in failures]


def write_changes(root: Path, changes: list[FileChange]) -> None:
    """Write all changes, each atomically; if one fails, put back every file already written and
    remove the directories made for them, then raise WriteFailed saying which file failed.

    An interrupt (Ctrl-C) while writing puts everything back too, then goes on as an interrupt.
    """
    done: list[FileChange] = []
    made: list[Path] = []
    try:
        for change in changes:
            _write_one(root / change.path, change, made)
            done.append(change)
    except BaseException as exc:
        lost = _restore(root, done, made)
        if not isinstance(exc, OSError):
            raise
        failed = changes[len(done)].path
        back = "every file was put back as it was" if not lost else f"could not put back {', '.join(lost)}"
        raise WriteFailed(f"{failed}: could not be written ({exc.strerror or exc}); {back}") from exc


def _restore(root: Path, done: list[FileChange], made: list[Path]) -> list[str]:
    """Put the written files back as they were, newest first; the paths that could not be put back."""
    lost: list[str] = []
    for change in reversed(done):
        target = root / change.path
        try:
            if change.old is None:
                target.unlink(missing_ok=True)
                continue
            target.write_bytes(change.old)
            if change.old_mode is not None:
                os.chmod(target, _exec_bits(stat.S_IMODE(target.stat().st_mode), bool(change.old_mode & 0o111)))
        except OSError:
            lost.append(change.path)
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass
    return lost


def _make_parents(folder: Path, made: list[Path]) -> None:
    """mkdir -p, noting each directory it makes (outermost first) so a rollback can remove them."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir()
        made.append(new)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _umask_mode() -> int:
    """0o666 less the process umask: the mode a plain new file gets (git and patch do the same)."""
    return 0o666 & ~_umask()


def _exec_bits(mode: int, executable: bool) -> int:
    """`mode` made executable (x wherever it is readable, less the umask) or not, as git checks out."""
    if not executable:
        return mode & ~0o111
    return mode | ((mode & 0o444) >> 2 & ~_umask())


def _write_one(target: Path, change: FileChange, made: list[Path]) -> None:
    if change.new is None:
        target.unlink()
        return
    _make_parents(target.parent, made)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else _umask_mode()
    if change.mode is not None:
        mode = _exec_bits(mode, bool(change.mode & 0o111))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".diffcrew")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(change.new)
        os.chmod(tmp, mode)  # mkstemp makes 0600; a new file gets what open() would give it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
