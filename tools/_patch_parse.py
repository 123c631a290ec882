"""Reading diffs out of model text: fences, prose, file sections and tolerant hunks.

Owns the syntax side of the patch engine: where the diff is in a reply, where each
file's section starts, which paths its headers name, and what each hunk line means.
It never looks at the file being patched; locating and applying live elsewhere.

Tolerated: prose and markdown fences around the diff, missing `diff --git`/`index`
lines, missing or wrong @@ numbers and counts, `@@ @@`, hunks with no @@ line right
after the file headers, blank context lines that lost their leading space, CRLF diffs,
git format-patch mails (each section knows its mail; the `-- ` signature is no removed
line) and prose lines that start with @@ (a hunk with no lines is no hunk). Git's extended
headers are read by _patch_git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diffcrew.tools._patch_binary import take_block_line
from diffcrew.tools._patch_errors import PatchRejected, whole_diff_error
from diffcrew.tools._patch_git import (
    Draft, Numbered, git_paths, is_epoch, is_mail_start, is_signature, mail_encoding, message_end, read_meta,
    unquote,
)


_FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})[ \t]*([^\s`]*)")
_HUNK_INNER = re.compile(r"^@@+(.*?)(?:@@|$)")
_NUMBERS = re.compile(r"-\s*(\d+)(?:\s*,\s*(\d+))?(?:\s+\+\s*(\d+)(?:\s*,\s*(\d+))?)?")
_DIFF_LANGS = frozenset({"diff", "patch", "udiff"})
_BODY = (" ", "+", "-")


@dataclass(frozen=True)
class HunkLine:
    kind: str  # " " unchanged, "-" removed, "+" added
    text: str
    soft: bool = False  # a blank line written without its leading space


@dataclass(frozen=True)
class Hunk:
    index: int  # 1-based order in the diff text
    diff_line: int  # where it starts in the model's text, for error messages
    header: str  # the @@ line as written ("" when the hunk had none)
    old_start: int | None  # numbers from the @@ line; only ever hints
    new_start: int | None
    lines: tuple[HunkLine, ...]
    old_no_eol: bool = False  # "\ No newline at end of file" after a removed/unchanged line
    new_no_eol: bool = False  # ... after an added/unchanged line


@dataclass(frozen=True)
class Section:
    old_path: str | None  # a/ b/ ./ stripped; None for /dev/null or when no header named it
    new_path: str | None
    old_raw: str | None  # as written, quotes and ./ removed but a/ b/ kept
    new_raw: str | None
    created: bool
    deleted: bool
    hunks: tuple[Hunk, ...]
    text: str  # this section's lines of the model's text
    binary: bool = False  # "GIT binary patch" or "Binary files ... differ": no text hunks to apply
    mode: int | None = None  # from "new file mode 100755" / "new mode 100644"
    binary_patch: tuple[str, ...] = ()  # the lines after "GIT binary patch" (its literal/delta blocks)
    old_mode: int | None = None  # from "old mode 100644"
    renamed: bool = False  # git's "rename from/to": the old file moves to the new path
    copied: bool = False  # git's "copy from/to": the new path starts as a copy of the old file
    body: str = ""  # the hunk lines of `text`, without the headers before them
    mail: int = 0  # which mail of a format-patch series it is in (1, 2...; 0: not in a mail)
    absent_name: str | None = None  # `diff -N`'s name for the missing side (stamped with the epoch), as written


def parse_diff(text: str) -> list[Section]:
    """Every file section of every diff in `text`, in order. Raises PatchRejected when there is none."""
    counter = [1, 0]  # the next hunk's number and the mail being read, shared by every block
    sections: list[Section] = []
    for block in _blocks(text):
        sections.extend(_Parser(block, counter).run())
    if not sections:
        raise whole_diff_error(
            "no-diff",
            "no diff found: expected a unified diff",
            "Send the change as a unified diff: '--- a/PATH' and '+++ b/PATH' lines, then hunks "
            "that start with '@@' and whose lines start with ' ' (unchanged), '-' (removed) or '+' (added).",
        )
    return sections


def clean_path(raw: str | None) -> str | None:
    """A header path without its a/ or b/ prefix and leading ./ (None stays None)."""
    if raw is None:
        return None
    path = _strip_dot(raw)
    if path.startswith(("a/", "b/")):
        path = _strip_dot(path[2:])
    return path


def _strip_dot(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path


def _header_path(rest: str) -> str | None:
    """The path of a ---/+++ line: timestamps after a tab dropped, quotes removed.

    None for /dev/null and for a path stamped with the Unix epoch, which is how `diff -u -N` marks
    the missing side of a creation or deletion (GNU patch reads it the same way).
    """
    path, _, stamp = rest.partition("\t")
    path = path.strip()
    if "\\" in path and "/" not in path and not path.startswith('"'):
        path = path.replace("\\", "/")  # a Windows path (a\src\x.py): no POSIX name has only backslashes
        path = path[2:] if re.match(r"[A-Za-z]:/", path) else path  # C:\proj\x.py: absolute, as /proj/x.py
    path = unquote(path)
    return None if path == "/dev/null" or is_epoch(stamp) else _strip_dot(path)


def _absent_name(rest: str | None) -> str | None:
    """The path of a ---/+++ line that `diff -N` stamped with the epoch (None for /dev/null or none)."""
    if rest is None or "\t" not in rest:
        return None
    path = unquote(rest.partition("\t")[0].strip())
    return None if path == "/dev/null" or _header_path(rest) is not None else _strip_dot(path)


def _numbered(text: str) -> Numbered:
    if text.startswith("\ufeff"):
        text = text[1:]
    raw = text.split("\n")
    if raw[-1] == "":
        raw.pop()  # the text's final newline ends its last line; it does not start another
    crlf_diff = 2 * sum(line.endswith("\r") for line in raw) > len(raw)
    # In an LF diff, a CR right before "\ No newline at end of file" is the file's last byte.
    keep = {i for i in range(len(raw) - 1) if not crlf_diff and raw[i + 1].startswith("\\")}
    return [(n, line[:-1] if line.endswith("\r") and i not in keep else line) for i, (n, line) in
            enumerate(enumerate(raw, 1))]


def _blocks(text: str) -> list[Numbered]:
    """The fenced blocks that hold a diff, or the whole text when no fence does."""
    lines = _numbered(text)
    blocks: list[tuple[str, Numbered]] = []
    current: Numbered | None = None
    fence, lang = "", ""
    for n, line in lines:
        opener = _FENCE_OPEN.match(line)
        if current is None:
            if opener:
                current, fence, lang = [], opener.group(1), opener.group(2).lower()
        elif line.strip() and line.rstrip() == fence[0] * len(line.rstrip()) and len(line.rstrip()) >= len(fence):
            blocks.append((lang, current))
            current = None
        else:
            current.append((n, line))
    if current is not None:  # an unclosed fence runs to the end (a truncated reply)
        blocks.append((lang, current))
    chosen = [b for lang, b in blocks if lang in _DIFF_LANGS or _has_structure(b)]
    return chosen or [lines]


def _has_structure(block: Numbered) -> bool:
    return any(line.startswith(("@@", "--- ", "+++ ", "diff --git ")) for _, line in block)


def _is_bare(block: Numbered) -> bool:
    """Hunk lines only, no headers at all: e.g. a creation written as '+' lines."""
    solid = [line for _, line in block if line.strip()]
    return bool(solid) and not _has_structure(block) and all(
        line.startswith((*_BODY, "\\")) for line in solid
    ) and any(line.startswith(("+", "-")) for line in solid)


class _Parser:
    """A line-by-line reader of one block; the state is the section being read."""

    def __init__(self, lines: Numbered, counter: list[int]) -> None:
        self.lines = lines
        self.counter = counter
        self.drafts: list[Draft] = []

    @property
    def cur(self) -> Draft | None:
        return self.drafts[-1] if self.drafts else None

    def run(self) -> list[Section]:
        i = self._hunk(0, has_header=False) if _is_bare(self.lines) else 0
        while i < len(self.lines):
            i = self._step(i)
        return [self._freeze(d) for d in self.drafts]

    def _new(self, i: int) -> Draft:
        self.drafts.append(Draft(first=i, last=i, mail=self.counter[1]))
        return self.drafts[-1]

    def _next_starts(self, i: int, prefixes: tuple[str, ...]) -> bool:
        return i + 1 < len(self.lines) and self.lines[i + 1][1].startswith(prefixes)

    def _step(self, i: int) -> int:
        line = self.lines[i][1]
        if is_mail_start(line):
            self.counter[1] += 1
            _refuse_encoded(self.lines, i + 1)
            return message_end(self.lines, i + 1)  # the commit message is never part of the diff
        if _COMBINED.match(line):
            raise _combined(self.lines[i][0])
        if line.startswith("diff --git "):
            draft = self._new(i)
            draft.git_old, draft.git_new = git_paths(line[len("diff --git "):])
            return i + 1
        if line.startswith("--- ") and self._next_starts(i, ("+++ ", "@@")):
            draft = self._for_header(i, old=True)
            draft.old, draft.last = line[4:], i
            return i + 1
        if line.startswith("+++ "):
            draft = self._for_header(i, old=False)
            draft.new, draft.last = line[4:], i
            return i + 1
        if line.startswith("@@"):
            return self._hunk(i, has_header=True)
        current = self.cur
        if current is not None and not current.hunks:
            if read_meta(current, line) or take_block_line(current.binary_patch, line):
                current.last = i
                return i + 1
            # Models often skip the @@ line and start the hunk right after the file headers.
            if current.has_header and line.startswith(_BODY) and line.strip():
                return self._hunk(i, has_header=False)
        return i + 1  # prose between or around diffs

    def _for_header(self, i: int, old: bool) -> Draft:
        draft = self.cur
        if draft is None or draft.hunks or (draft.has_header if old else draft.new is not None):
            return self._new(i)
        return draft

    def _hunk(self, i: int, has_header: bool) -> int:
        number, head = self.lines[i]
        nums = _parse_numbers(head) if has_header else (None, None, None, None)
        index = self.counter[0]
        body, flags, end, last = _read_body(self.lines, i + 1 if has_header else i, nums[1], nums[3], index)
        if not body:  # an @@ line in prose ("the header @@ -1,3 +1,4 @@ means..."): not a hunk
            return max(end, i + 1)
        self.counter[0] += 1
        draft = self.cur if self.cur is not None else self._new(i)
        draft.body_from = i if draft.body_from is None else draft.body_from
        draft.hunks.append(Hunk(
            index=index, diff_line=number, header=head.strip() if has_header else "",
            old_start=nums[0], new_start=nums[2], lines=tuple(body),
            old_no_eol=flags[0], new_no_eol=flags[1],
        ))
        draft.last = max(last, i)
        return end

    def _freeze(self, d: Draft) -> Section:
        old_raw = _header_path(d.old) if d.old is not None else d.git_old
        new_raw = _header_path(d.new) if d.new is not None else d.git_new
        created = d.created or (d.old is not None and old_raw is None)
        deleted = d.deleted or (d.new is not None and new_raw is None)
        text = "\n".join(line for _, line in self.lines[d.first: d.last + 1]) + "\n"
        body_from = d.last + 1 if d.body_from is None else d.body_from
        body = "".join(line + "\n" for _, line in self.lines[body_from: d.last + 1])
        return Section(
            old_path=None if created else clean_path(old_raw), new_path=None if deleted else clean_path(new_raw),
            old_raw=None if created else old_raw, new_raw=None if deleted else new_raw,
            created=created, deleted=deleted, hunks=tuple(d.hunks), text=text, binary=d.binary, mode=d.mode,
            old_mode=d.old_mode, renamed=d.renamed, copied=d.copied, body=body, mail=d.mail,
            binary_patch=tuple(d.binary_patch or ()),
            absent_name=_absent_name(d.old if created else d.new if deleted else None),
        )


_COMBINED = re.compile(r"^(diff --(cc|combined) |@@@+ -\S+ -\S+ )")  # git's merge diffs: one column per parent


def _combined(number: int) -> PatchRejected:
    return whole_diff_error(
        "combined",
        f"diff not applied: line {number} starts a combined diff of a merge (`diff --cc`), "
        "whose lines have one column per parent",
        "Send the merge's change against one parent instead: `git diff PARENT MERGE`.",
    )


def _refuse_encoded(lines: Numbered, i: int) -> None:
    """A mail whose body is quoted-printable or base64 ('=3D' for '='): its lines are not the diff's."""
    encoding = mail_encoding(lines, i)
    if encoding is not None:
        raise whole_diff_error(
            "mail-encoding",
            f"diff not applied: the mail at line {lines[i - 1][0]} is {encoding}-encoded, so its lines are not "
            "the diff's lines",
            "Decode the mail first (`git am` does), or send the patch as plain `git format-patch` output.",
        )


def _parse_numbers(header: str) -> tuple[int | None, int | None, int | None, int | None]:
    """(old start, old count, new start, new count) from an @@ line; None for each one missing."""
    inner = _HUNK_INNER.match(header)
    found = _NUMBERS.search(inner.group(1) if inner else "")
    if not found:
        return None, None, None, None
    values = [int(g) if g is not None else None for g in found.groups()]
    return values[0], values[1], values[2], values[3]


def _read_body(
    lines: Numbered, i: int, old_count: int | None, new_count: int | None, index: int
) -> tuple[list[HunkLine], list[bool], int, int]:
    """Hunk lines from line i on: (lines, [old lacks final newline, new lacks it], next i, last line used)."""
    body: list[HunkLine] = []
    marked: set[int] = set()  # body lines followed by "\\ No newline at end of file"
    old_seen = new_seen = 0
    last = i - 1
    while i < len(lines):
        number, line = lines[i]
        if line.startswith("\\"):
            marked.add(len(body) - 1)
        elif (old_count is None or old_seen >= old_count) and is_signature(lines, i):
            break  # git format-patch's "-- " before its version line ends the mail
        elif _ends_hunk(lines, i, old_count is None or old_seen >= old_count):
            break
        elif old_count is not None and new_count is not None and old_seen >= old_count \
                and new_seen >= new_count and not _body_follows(lines, i):
            break  # the header's counts are met and what follows is not more hunk
        elif line.startswith(_BODY) or not line.strip():
            entry = HunkLine(line[0], line[1:]) if line.startswith(_BODY) else HunkLine(" ", "", soft=True)
            body.append(entry)
            old_seen += entry.kind != "+"
            new_seen += entry.kind != "-"
        elif _body_follows(lines, i + 1):
            raise _malformed(number, line, index)
        else:
            break  # prose after the diff
        last = i
        i += 1
    # Blank lines at the end are separators, unless the header's counts say they are context.
    while body and body[-1].soft and (old_count is None or old_seen > old_count):
        body.pop()
        old_seen -= 1
    return body, _no_eol_flags(body, marked), i, last


def _ends_hunk(lines: Numbered, i: int, old_side_done: bool) -> bool:
    line = lines[i][1]
    if line.startswith(("@@", "diff --git ")):
        return True
    if not (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1][1].startswith("+++ ")):
        return False
    # "--- x" is a removed "-- x" while the header still expects removed lines, unless a hunk
    # header follows the pair: then it is the next file's header and the counts were wrong.
    return old_side_done or (i + 2 < len(lines) and lines[i + 2][1].startswith("@@"))


def _body_follows(lines: Numbered, i: int) -> bool:
    """Whether the next non-blank line from i on continues a hunk."""
    while i < len(lines) and not lines[i][1].strip():
        i += 1
    if i >= len(lines):
        return False
    line = lines[i][1]
    return line.startswith((*_BODY, "\\")) and not _ends_hunk(lines, i, True)


def _no_eol_flags(body: list[HunkLine], marked: set[int]) -> list[bool]:
    """[old side lacks the final newline, new side lacks it]: a marker counts only after its side's
    last line (blank lines that lost their prefix aside); one that more lines of its side follow
    cannot be true and says nothing."""
    def last_of_side(k: int, other: str) -> bool:
        return 0 <= k and body[k].kind != other and all(
            line.soft or line.kind == other for line in body[k + 1:])
    return [any(last_of_side(k, "+") for k in marked), any(last_of_side(k, "-") for k in marked)]


def _malformed(number: int, line: str, index: int) -> PatchRejected:
    shown = line if len(line) <= 120 else line[:117] + "..."
    return whole_diff_error(
        "malformed",
        f"diff not applied: line {number} of the diff (in hunk {index}) is not a diff line: {shown!r}",
        "Inside a hunk every line starts with ' ' (unchanged), '-' (removed) or '+' (added): "
        "if it is an unchanged line, put a space before it. Write unchanged lines out in full "
        "instead of eliding them with '...', and keep explanations outside the diff.",
        hunk=index,
    )
