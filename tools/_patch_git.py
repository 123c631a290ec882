"""Git's and git format-patch's additions to a unified diff, as _patch_parse reads them.

Extended header lines (`new file mode`, `rename from`, `copy to`, `old mode`...), the paths of a
`diff --git` line, and the `-- ` signature that ends each mail of a format-patch series (it must
not be read as a removed line "- "). Also the one header detail of plain `diff -u`: an epoch
timestamp marks the missing side of a creation or deletion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diffcrew.tools._patch_parse import Hunk

Numbered = list[tuple[int, str]]  # (1-based line number in the model's text, line without ending)

_GIT_META = ("index ", "similarity index", "dissimilarity index", "old mode", "new mode",
             "copy from", "copy to", "rename from ", "rename to ", "new file mode", "deleted file mode",
             "Binary files", "GIT binary patch")
_MAIL_START = re.compile(r"^From [0-9a-f]{7,40} Mon Sep 17 00:00:00 2001$")  # git format-patch's fixed mbox line
_VERSION = re.compile(r"^\d+(\.\d+)+\S*$")  # "2.39.5", "2.43.0.windows.1"


@dataclass
class Draft:
    """A section while it is being read (mutable; frozen into a Section at the end)."""

    first: int
    last: int
    old: str | None = None  # path text of the --- line; "/dev/null" kept verbatim here
    new: str | None = None
    git_old: str | None = None
    git_new: str | None = None
    created: bool = False
    deleted: bool = False
    binary: bool = False
    mode: int | None = None
    old_mode: int | None = None
    renamed: bool = False
    copied: bool = False
    mail: int = 0  # the format-patch mail it is in (0: none)
    body_from: int | None = None  # index of the first hunk line: what comes before it are headers
    hunks: list[Hunk] = field(default_factory=list)
    binary_patch: list[str] | None = None  # set once "GIT binary patch" is read: its block lines

    @property
    def has_header(self) -> bool:
        return self.old is not None or self.new is not None


def read_meta(draft: Draft, line: str) -> bool:
    """Whether `line` is one of git's extended header lines; the ones that matter set the draft's fields."""
    if line.startswith(("new file mode ", "new mode ")):
        draft.mode = _mode(line.rsplit(" ", 1)[1])
    elif line.startswith(("old mode ", "deleted file mode ")) or (line.startswith("index ") and line.count(" ") == 2):
        draft.old_mode = _mode(line.rsplit(" ", 1)[1])  # "index 1a2b..3c4d 100644" names the mode too
    if line.startswith("new file mode"):
        draft.created = True
    elif line.startswith("deleted file mode"):
        draft.deleted = True
    elif line.startswith(("GIT binary patch", "Binary files ")):
        draft.binary = True
        if line.startswith("GIT binary patch"):
            draft.binary_patch = []
    elif line.startswith(("rename from ", "rename to ", "copy from ", "copy to ")):
        _moved(draft, line)
    return line.startswith(_GIT_META)


def _moved(draft: Draft, line: str) -> None:
    """`rename from x` / `copy to y`: the paths carry no a/ b/ prefix, so one is added for clean_path to take off."""
    words = line.split(" ", 2)
    path = _strip_dot(unquote(words[2].strip()))
    draft.renamed = draft.renamed or words[0] == "rename"
    draft.copied = draft.copied or words[0] == "copy"
    if words[1] == "from":
        draft.git_old = "a/" + path
    else:
        draft.git_new = "b/" + path


def _mode(text: str) -> int | None:
    """A git file mode ('100755'), or None when it is not an octal number."""
    try:
        return int(text.strip(), 8)
    except ValueError:
        return None


def git_paths(rest: str) -> tuple[str | None, str | None]:
    """The two paths of a `diff --git a/x b/y` line (prefixes kept; git's "quoted" paths unquoted)."""
    quoted = _QUOTED_PAIR.match(rest.strip())
    if quoted:
        first, second = (unquote(part) if part.startswith('"') else part for part in quoted.groups())
        return _strip_dot(first), _strip_dot(second)
    parts = rest.split()
    if len(parts) == 2:
        return _strip_dot(parts[0]), _strip_dot(parts[1])
    return _spaced_paths(rest.strip())


def _spaced_paths(rest: str) -> tuple[str | None, str | None]:
    """Unquoted paths with spaces ('a/x b/y b/x b/y'): like git, the split where both sides name the
    same file; else the split at the only ' b/'. Several ' b/' and no such split: not known."""
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:] \
            and rest.startswith("a/") and rest[half + 1:].startswith("b/"):
        return _strip_dot(rest[:half]), rest[half + 1:]
    if rest.count(" b/") == 1:
        old, new = rest.split(" b/", 1)
        return _strip_dot(old.strip()), "b/" + new.strip()
    return None, None


_QUOTE = r'"(?:[^"\\]|\\.)*"'
_QUOTED_PAIR = re.compile(rf'^({_QUOTE}|\S+) ({_QUOTE}|\S+)$')
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote(text: str) -> str:
    """A path as git quotes it ("utf-8 \\355\\225\\234.txt", "a\\"b") back to text; other text unchanged.

    Octal escapes are bytes of the UTF-8 name; bytes that are not UTF-8 stay as surrogates (then refused).
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    out = bytearray()
    inner, i = text[1:-1], 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and inner[i + 1: i + 4].isdigit() and len(inner[i + 1: i + 4]) == 3:
            out.append(int(inner[i + 1: i + 4], 8) & 0xFF)
            i += 4
        elif ch == "\\" and i + 1 < len(inner) and inner[i + 1] in _ESCAPES:
            out.append(_ESCAPES[inner[i + 1]])
            i += 2
        else:
            out.extend(ch.encode("utf-8", errors="surrogateescape"))
            i += 1
    return out.decode("utf-8", errors="surrogateescape")


def _strip_dot(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path


def is_signature(lines: Numbered, i: int) -> bool:
    """Whether line i is the `-- ` that git format-patch writes after a mail's diff, before git's version.

    It is one only when the next non-blank line is a version number, a new mail, or nothing at all.
    """
    if lines[i][1] not in ("-- ", "--"):
        return False
    j = i + 1
    while j < len(lines) and not lines[j][1].strip():
        j += 1
    if j >= len(lines):
        return True
    following = lines[j][1].strip()
    return bool(_VERSION.match(following)) or following.startswith("From ")


def message_end(lines: Numbered, i: int) -> int:
    """Where the diff of the mail whose 'From <sha>' line is line i - 1 starts: the first line from i on
    that git mailinfo takes as the patch break, or the next mail's start, or the end.

    Everything before it is the mail's headers and commit message, which `git am` never applies,
    whatever it looks like ('@@' lines, '-'/'+' lines quoted in prose).
    """
    while i < len(lines) and not (_is_patch_break(lines[i][1]) or is_mail_start(lines[i][1])):
        i += 1
    return i


def mail_encoding(lines: Numbered, i: int) -> str | None:
    """The Content-Transfer-Encoding of the mail whose headers start at line i, when it is one that
    hides the diff's bytes (quoted-printable, base64); None for 7bit/8bit/binary or none given."""
    while i < len(lines) and lines[i][1].strip() and not is_mail_start(lines[i][1]):
        name, _, value = lines[i][1].partition(":")
        if name.strip().lower() == "content-transfer-encoding" and value.strip().lower() in _ENCODED:
            return value.strip().lower()
        i += 1
    return None


_ENCODED = frozenset({"quoted-printable", "base64"})


def _is_patch_break(line: str) -> bool:
    """git mailinfo's rule: '---' alone or before a name, 'diff -', or 'Index: '."""
    if line.startswith(("diff -", "Index: ")):
        return True
    if not line.startswith("---"):
        return False
    rest = line[3:]
    return not rest.strip() or (rest[0] == " " and not rest[1:2].isspace())


def is_mail_start(line: str) -> bool:
    """Whether `line` starts a git format-patch mail (its mbox 'From <sha>' line with git's fixed date)."""
    return bool(_MAIL_START.match(line))


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})$")


def is_epoch(stamp: str) -> bool:
    """Whether a diff -u timestamp ('1970-01-01 00:00:00.000000000 +0000', any zone) is the epoch."""
    found = _STAMP.match(stamp.strip())
    if not found:
        return False
    try:
        return datetime.strptime(" ".join(found.groups()), "%Y-%m-%d %H:%M:%S %z").timestamp() == 0
    except ValueError:
        return False
