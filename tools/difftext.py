"""Every diff diffcrew shows is parsed back first, with `unidiff` (a strict parser), and counted from that.

`git_diff(repo, base, target, expected)` gets git's diff of a run's change and hands it to
`parse_back(text, expected)`, which returns a `CheckedDiff`: the same text, and each file's path and
added/removed line counts. Those counts are the only ones diffcrew shows: the diffstat after a run
(`CheckedDiff.stat`), which is also the report's `diffstat`, the pull-request body's, the
synthesizer's and `diffcrew fix`'s. The text must be well-formed:
- unidiff parses it, so every hunk holds as many lines as its `@@` header says;
- in git's format, there is one parsed file per `diff --git` header; and every line of the text
  belongs to a file (unidiff keeps a line it does not recognise as "patch info", and may drop it);
- every file's path is one of `expected`, when given, and no file appears twice;
- a binary file is git's "Binary files ... differ" line: counted as binary, with no lines.
Anything else raises DiffFormatError. That is an internal error: the text is never shown.

`unidiff` is imported on first use, so the CLI's start-up does not pay for it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diffcrew.tools.errors import DiffFormatError

if TYPE_CHECKING:
    from unidiff import PatchedFile

    from diffcrew.tools.git import GitRepo

__all__ = ["CheckedDiff", "FileCount", "git_diff", "parse_back"]

GRAPH_WIDTH = 50  # the widest run of +/- in a diffstat line; longer runs are scaled down, as git does
_GIT_HEADER = re.compile(r"^diff --git ", re.MULTILINE)
_QUOTED = re.compile(r'\\([0-7]{3}|.)')
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass(frozen=True)
class FileCount:
    path: str
    added: int
    removed: int
    binary: bool = False


@dataclass(frozen=True)
class CheckedDiff:
    text: str  # the diff as parsed: this exact text is what may be shown
    files: tuple[FileCount, ...]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def stat(self) -> str:
        """A `git diff --stat`-style summary of the counts: one line per file, then the totals."""
        if not self.files:
            return ""
        name_width = max(_width(f.path) for f in self.files)
        count_width = max(len(str(f.added + f.removed)) for f in self.files)
        widest = max(f.added + f.removed for f in self.files)
        lines = []
        for f in self.files:
            name = f.path + " " * (name_width - _width(f.path))  # padded to the columns it takes on a terminal
            if f.binary:
                lines.append(f" {name} | {'Bin':>{count_width}}")
                continue
            plus, minus = _scaled(f.added, widest), _scaled(f.removed, widest)
            graph = f"{'+' * plus}{'-' * minus}"
            lines.append(f" {name} | {f.added + f.removed:>{count_width}} {graph}".rstrip())
        count = len(self.files)
        total = f" {count} file{'s' if count != 1 else ''} changed"
        total += f", {self.added} insertion{'s' if self.added != 1 else ''}(+)"
        total += f", {self.removed} deletion{'s' if self.removed != 1 else ''}(-)"
        return "\n".join([*lines, total]) + "\n"


def git_diff(repo: GitRepo, base: str, target: str, expected: Collection[str] | None = None) -> CheckedDiff:
    """git's diff from `base` to `target` (commits or trees), parsed back: the only way diffcrew shows one."""
    return parse_back(repo.diff(base, target), expected)


def parse_back(text: str, expected: Collection[str] | None = None) -> CheckedDiff:
    """`text` checked as a well-formed unified diff (see the module's rules), with its per-file counts."""
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    try:
        parsed = PatchSet(text)
    except (UnidiffParseError, UnicodeError) as exc:
        raise _malformed(f"it does not parse: {exc}") from None
    headers = len(_GIT_HEADER.findall(text))
    if headers and headers != len(parsed):  # git's format: every file has its header (plain diffs have none)
        raise _malformed(f"it has {headers} 'diff --git' header(s) but {len(parsed)} file(s) parse")
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    used = sum(_lines_of(f) for f in parsed)
    if used != lines:
        raise _malformed(f"{lines - used} of its {lines} lines belong to no file")
    files = tuple(FileCount(_path(f), f.added, f.removed, f.is_binary_file) for f in parsed)
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            raise _malformed(f"it names {f.path} twice")
        if expected is not None and f.path not in expected:
            raise _malformed(f"it changes {f.path}, which is not one of the files this run changes")
        seen.add(f.path)
    return CheckedDiff(text, files)


def _lines_of(f: PatchedFile) -> int:
    """The lines of the text that unidiff put into this file: header, '---'/'+++', hunks."""
    names = 2 if len(f) else 0  # a file with hunks has its '---' and '+++' lines (unidiff keeps neither)
    return len(f.patch_info or ()) + names + sum(1 + len(hunk) for hunk in f)


def _path(f: PatchedFile) -> str:
    """The file's repository path: a/ b/ prefixes gone, git's C-style quoting undone."""
    path = f.path
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = _unquote(path[1:-1])
    return path


def _unquote(inner: str) -> str:
    """Undo git's quoting of a path (core.quotePath): backslash escapes and octal bytes, UTF-8."""
    out = bytearray()
    last = 0
    for match in _QUOTED.finditer(inner):
        out += inner[last:match.start()].encode("utf-8")
        code = match.group(1)
        if len(code) == 3:
            out.append(int(code, 8))
        elif code in _ESCAPES:
            out.append(_ESCAPES[code])
        else:
            raise _malformed(f"its path {inner!r} has an unknown escape \\{code}")
        last = match.end()
    out += inner[last:].encode("utf-8")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"its path {inner!r} is not UTF-8") from None


def _width(text: str) -> int:
    """The columns `text` takes on a terminal: wide (CJK) characters two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def _scaled(count: int, widest: int) -> int:
    """The length of a +/- run: the count itself, or scaled so the widest file fits GRAPH_WIDTH."""
    if widest <= GRAPH_WIDTH or not count:
        return count
    return max(1, round(count * GRAPH_WIDTH / widest))


def _malformed(why: str) -> DiffFormatError:
    return DiffFormatError(f"internal error: a diff diffcrew made is not a well-formed unified diff ({why}); "
                           "it is not shown. Please report this with the run's transcript.")
