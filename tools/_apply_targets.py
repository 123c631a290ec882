"""Which file (or files) of the working tree each section of a `diffcrew apply` diff changes.

Header names resolve through tools.patchpaths against the tracked files (`git ls-files`, run
once and only when a name is not an exact path); a section with no names goes to the one
tracked file on which all its hunks apply, found by `git grep -F` for its rarest lines and then
tried in memory. Renames and copies name a source that must exist and a new plain path. Outside
a git repository only exact paths are used, as before. Path safety is applied later, to the
resolved path, by applyfiles.confined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diffcrew.tools._patch_parse import Section
from diffcrew.tools.errors import UsageError
from diffcrew.tools.gitconst import local_git
from diffcrew.tools.paths import path_problem
from diffcrew.tools.patchpaths import Resolution, describe, listed, resolve_name, resolve_names

MAX_CANDIDATES = 20  # files tried in memory for a section with no names
PROBES = 4  # removed/unchanged lines searched for, rarest (longest) first


@dataclass(frozen=True)
class Target:
    path: str  # the file the section's result is written to
    kind: str = "modify"  # "modify" | "rename" | "copy"
    source: str | None = None  # rename/copy: the file whose content the hunks apply to
    resolved: str | None = None  # "resolved /app/util.py to util.py, ...", when a name was not exact


class Tree:
    """The working tree at `root`, with its tracked files listed at most once.

    `planned(path)` says whether the sections before have made a file exist (True), removed it
    (False) or left it alone (None): a series may create a file and a later mail rename it.
    """

    def __init__(self, root: Path, planned: Callable[[str], bool | None] = lambda path: None) -> None:
        self.root = root
        self.planned = planned
        self._tracked: frozenset[str] | None = None
        self.is_git = (root / ".git").exists()

    def tracked(self) -> frozenset[str]:
        """Tracked files, or outside git the empty set (then only exact paths are used)."""
        if self._tracked is None:
            output = _git(self.root, "ls-files", "-z") if self.is_git else ""
            self._tracked = frozenset(p for p in output.split("\0") if p)
        return self._tracked

    def exact(self, name: str | None) -> bool:
        """Whether `name` is a plain path to a file that exists (as the plan so far leaves it)."""
        if not name or path_problem(name):
            return False
        planned = self.planned(name)
        return (self.root / name).is_file() if planned is None else planned


def _git(root: Path, *args: str) -> str:
    """A git command's output in `root`; empty when git fails (not a repository, no match)."""
    done = local_git(root, *args)
    if done is None or done.returncode != 0:
        return ""
    return done.stdout.decode("utf-8", errors="surrogateescape")


def target_for(tree: Tree, section: Section, fits: Callable[[str], bool]) -> Target:
    """Where `section` applies; UsageError (one line) when no file or several files fit.

    `fits(path)` tells whether the section's hunks apply to that file as it is now.
    """
    old, new = section.old_path, section.new_path
    if any("\udc80" <= ch <= "\udcff" for ch in (old or "") + (new or "")):  # undecodable bytes kept as surrogates
        raise UsageError(f"{(new or old)!r}: a path that is not UTF-8; not patched")
    if section.renamed or section.copied:
        return _moved(tree, section)
    if old is None and new is None:
        return _by_content(tree, section, fits)
    if section.created or (old is None and not section.deleted):
        return Target(_two_tree_name(section.absent_name, new or ""))  # a new file's path is never guessed
    literal = _unprefixed(section)
    if literal is not None and tree.exact(literal):
        if any(tree.exact(name) for name in (new, old)):
            raise UsageError(f"{literal}: the header is that file, or {new or old} with a/ or b/ taken off; name it "
                             "as git does ('--- a/PATH', '+++ b/PATH')")
        return Target(literal)
    for name in dict.fromkeys((new, old)):
        if tree.exact(name):
            return Target(name or "")
    if _from_empty(section):  # '@@ -0,0 ...': the old file was empty or absent; git and patch create the name
        return Target(new or old or "")
    found = resolve_names(old, new, tree.tracked())
    if found.path is not None:
        return Target(found.path, resolved=describe(found) if found.guessed else None)
    if found.candidates:
        raise UsageError(describe(found))
    return Target(new or old or "")  # no file fits: the plain path, refused or created as before


def _unprefixed(section: Section) -> str | None:
    """The path as written when its a/ or b/ is no git prefix: both headers start with the same one
    (`--- b/x.py` `+++ b/x.py`, a `diff -p0` of the folder b); None otherwise."""
    old, new = section.old_raw, section.new_raw
    if old is None or new is None or old != new or not old.startswith(("a/", "b/")):
        return None
    return old


def _two_tree_name(absent: str | None, new: str) -> str:
    """A created file's path in a `diff -ruN OLD NEW` of two trees: `--- old/src/n.py <epoch>` and
    `+++ new/src/n.py` name the same file below their two roots, which go (as `patch -p1` and
    `git apply` take them off)."""
    if absent is None or "/" not in absent or "/" not in new:
        return new
    (old_root, old_rest), (new_root, new_rest) = absent.split("/", 1), new.split("/", 1)
    return new_rest if old_rest == new_rest and old_root != new_root else new


def _from_empty(section: Section) -> bool:
    """Whether every hunk starts at old line 0 with added lines only (and blank lines that lost their
    '+'): the diff was made against an empty or missing file, so it shows nothing to find a file by."""
    lines = [line for hunk in section.hunks for line in hunk.lines]
    return bool(section.hunks) and all(hunk.old_start == 0 for hunk in section.hunks) and \
        any(line.kind == "+" for line in lines) and all(line.kind == "+" or line.soft for line in lines)


def _moved(tree: Tree, section: Section) -> Target:
    """git's rename or copy: the source must resolve to an existing file; the new path is taken as written."""
    kind = "rename" if section.renamed else "copy"
    old, new = section.old_path, section.new_path
    if not old or not new:
        raise UsageError(f"a {kind} that does not name both files; give 'diff --git', '{kind} from' and '{kind} to'")
    found = Resolution(old, "exact", None) if tree.exact(old) else resolve_name(old, tree.tracked())
    if found.path is None:
        raise UsageError(f"{kind} of {old}: {describe(found)}")
    return Target(new, kind, found.path, describe(found) if found.guessed else None)


def _by_content(tree: Tree, section: Section, fits: Callable[[str], bool]) -> Target:
    """The one tracked file on which every hunk of a header-less section applies."""
    what = "a diff section names no file and"
    probes = _probes(section)
    if not probes or not tree.is_git:
        raise UsageError("a diff section names no file; give it ---/+++ headers")
    candidates = _grep(tree.root, probes)
    if len(candidates) > MAX_CANDIDATES:
        raise UsageError(f"{what} its lines are in more than {MAX_CANDIDATES} files; give it ---/+++ headers")
    fitting = [path for path in sorted(candidates) if fits(path)]
    if len(fitting) == 1:
        note = f"resolved the header-less hunks to {fitting[0]}, the only tracked file they apply to"
        return Target(fitting[0], resolved=note)
    if not fitting:
        raise UsageError(f"{what} its hunks apply to no tracked file; give it ---/+++ headers")
    raise UsageError(f"{what} its hunks apply to several files ({listed(fitting)}); give it ---/+++ headers")


def _probes(section: Section) -> list[str]:
    """The section's removed and unchanged lines, longest (likely rarest) first, a few of them."""
    lines = {line.text.strip() for hunk in section.hunks for line in hunk.lines if line.kind != "+"}
    return sorted((t for t in lines if t), key=lambda t: (-len(t), t))[:PROBES]


def _grep(root: Path, probes: list[str]) -> set[str]:
    """Tracked files holding every probe line: narrowed one `git grep -F -l` at a time, stopping once few are left."""
    found: set[str] | None = None
    for probe in probes:
        output = _git(root, "grep", "-F", "-l", "-z", "-I", "--no-color", "-e", probe)
        hits = {p for p in output.split("\0") if p}
        found = hits if found is None else found & hits
        if len(found) <= MAX_CANDIDATES:
            break
    return found or set()
