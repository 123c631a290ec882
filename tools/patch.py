"""The patch engine: apply one model-written, possibly sloppy unified diff to one file.

Owns the public API (apply_diff, split_diff and their result types) and the
file-level rules: which path a diff may touch, creation, deletion, the all-or-nothing
check over every hunk (including overlaps) and the per-hunk reports. Reading diff
syntax lives in _patch_parse, locating hunks in _patch_locate, byte-exact assembly in
_patch_text and the repair-loop wording of every refusal in _patch_errors.

Every refusal is a PatchError (PatchRejected) whose str() is the complete text to
send back to the model: first line a summary, then which hunk, why, and the closest
real lines of the file with their numbers.

Matching policy, for every tier (the tiers themselves are listed in _patch_locate):
1. Removed lines and the nearest non-blank unchanged line beside each change must be in the file (modulo drift).
2. Only outer context further from a change may be dropped; added lines are never matched, only re-indented.
3. Each hunk goes to the one place the first tier with any finds, searched from the hunks placed; numbers break ties.
4. Hunks may share only lines both keep unchanged; added lines alone are placed only by -U0 at the file's start or end.
5. Else, or if added lines' indentation/punctuation is unknowable, refuse, quoting the nearest real lines and numbers.
Drift: whitespace, and look-alike punctuation (smart quotes, dashes) for ASCII; never a word, identifier or number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diffcrew.tools._patch_errors import (
    MAX_DETAILED, HunkFailure, PatchRejected, ambiguous, context_mismatch, hunk_errors, no_anchor, no_match,
    blank_gap, invisible_change, no_match_brief, squash, unclear_indent, unclear_punctuation,
    whole_diff_error,
)
from diffcrew.tools._patch_locate import Ambiguous, FileIndex, Hint, Placement, Unclear, contradiction, locate
from diffcrew.tools._patch_match import LOOKALIKES
from diffcrew.tools._patch_overlap import overlaps
from diffcrew.tools._patch_parse import Hunk, HunkLine, Section, parse_diff
from diffcrew.tools._patch_text import FileText, final_newline, render

__all__ = ["Applied", "FileDiff", "HunkFailure", "HunkReport", "PatchRejected", "apply_diff", "split_diff"]

# Tier names in the order they are tried ("create": added lines into a missing or empty file).
# "edge": a -U0 hunk of added lines only, at the file's start or end as its @@ line says.
TIERS = (
    "exact-line", "exact", "trailing-ws", "whitespace", "indent", "drift", "punctuation", "already-applied",
    "trimmed", "edge", "create",
)
_ZERO_OLD = re.compile(r"@@+ -\d+,0 ")  # a hunk header whose old side is empty
_UNANCHORED = ("create", "edge")  # placements that say nothing about the offset
_Found = Placement | Ambiguous | Unclear | str | None  # what locating one hunk gives


@dataclass(frozen=True)
class HunkReport:
    index: int  # 1-based, order of the hunk in the diff text
    tier: str  # one of TIERS: how the hunk was located
    line: int  # 1-based line in the OLD file where its old side starts (already-applied: its new side)


@dataclass(frozen=True)
class Applied:
    path: str
    new_text: str | None  # None when the diff deletes the file
    hunks: tuple[HunkReport, ...]


@dataclass(frozen=True)
class FileDiff:
    old_path: str | None  # None for /dev/null (or no header); a/ b/ ./ prefixes stripped
    new_path: str | None
    text: str  # this file's diff text alone (headers + hunks)
    mode: int | None = None  # git's "new file mode" / "new mode" (0o100755, 0o100644), if given
    binary: tuple[str, ...] | None = None  # a binary section: its "GIT binary patch" lines (none: no data)


def split_diff(text: str) -> list[FileDiff]:
    """Find the diff(s) in a model's text (markdown fences, prose around it) and split it by file.

    A section without file headers has both paths None. Raises PatchError when there is no diff.
    """
    return [FileDiff(s.old_path, s.new_path, s.text, s.mode, s.binary_patch if s.binary else None)
            for s in parse_diff(text)]


def apply_diff(old_text: str | None, diff_text: str, path: str) -> Applied:
    """Apply a possibly sloppy diff for the single file `path` to old_text (None = file does not exist: creation).

    Raises PatchError whose str() is the complete, model-readable repair text (first line = one-line summary).
    """
    section = _section_for(parse_diff(diff_text), path)
    if section.binary:
        raise whole_diff_error(
            "binary", f"patch for {path} not applied: binary patches are not applied by diffcrew's workers, which "
                      "edit text; apply it with `git apply`",
            "Binary files cannot be changed with a text diff: change only text files.",
        )
    if section.deleted:
        return _delete(old_text, section, path)
    if old_text is None:
        return _create(section, path)
    if not section.hunks:
        if section.created and not old_text.lstrip("\ufeff"):
            return Applied(path, old_text, ())  # git's creation of an empty file, already there
        raise whole_diff_error("no-hunks", f"patch for {path} has no hunks", "Send hunks that start with '@@'.")
    file = _bom_shown(FileText.parse(old_text), section.hunks)
    if section.created and file.lines:
        return _recreate(file, old_text, section, path)
    placed = _place_all(section.hunks, file, path)
    return Applied(path, render(file, placed, final_newline(file, placed)), _reports(placed))


def _section_for(sections: list[Section], path: str) -> Section:
    """The one section for `path` (sections naming it, or naming nothing, are merged; not those of different mails)."""
    want = _norm(path)
    mine = [s for s in sections if _names_only(s, want)]
    others = [s for s in sections if not _names_only(s, want)]
    if others:
        names = sorted({_shown_name(s, want) for s in others})
        raise whole_diff_error(
            "wrong-path",
            f"this patch changes {', '.join(names)}; it may change only {path}",
            f"Send a diff for {path} alone, with headers '--- a/{want}' and '+++ b/{want}' (or none).",
        )
    if len(mine) == 1:
        return mine[0]
    if len({s.mail for s in mine}) > 1:  # a format-patch series: each mail is against the one before
        raise whole_diff_error(
            "series",
            f"this patch is a series of mails that change {path} one after another; it cannot apply as one diff",
            f"Send one diff of {path} against its current content, with all the changes in it.",
        )
    return Section(
        old_path=want, new_path=want, old_raw=want, new_raw=want,
        created=any(s.created for s in mine), deleted=any(s.deleted for s in mine),
        hunks=tuple(h for s in mine for h in s.hunks), text="".join(s.text for s in mine),
        binary=any(s.binary for s in mine),
    )


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _names_only(section: Section, want: str) -> bool:
    """Whether every path the section's headers name is `want` (with or without a/ b/ prefixes)."""
    pairs = ((section.old_raw, section.old_path), (section.new_raw, section.new_path))
    return all(raw is None or want in (raw, clean) for raw, clean in pairs)


def _shown_name(section: Section, want: str) -> str:
    names = [p for p in (section.old_path, section.new_path) if p is not None and p != want]
    return names[0] if names else want


def _place_all(hunks: tuple[Hunk, ...], file: FileText, path: str) -> list[tuple[Hunk, Placement]]:
    """Locate every hunk; refuse them all if any fails or two overlap."""
    index = FileIndex(file.lines, file.final_newline)
    placed: list[tuple[Hunk, Placement]] = []
    failures: list[HunkFailure] = []
    squashed: list[str] | None = None  # the error path's view of the file, built once if needed
    detailed = 0  # no-match failures given the costly closest-lines search so far
    hint_from: tuple[int, int] = (0, 0)  # (offset, floor) the hunks placed so far imply
    last_stated = 0  # the greatest @@ line of the hunks placed so far that carried an offset
    for hunk in hunks:
        result = _place_one(hunk, file, index, Hint.of(hunk, *hint_from))
        if hunk.old_start is not None and hunk.old_start < last_stated and hint_from != (0, 0):
            result = _out_of_order(result, _place_one(hunk, file, index, Hint.of(hunk)))
        if isinstance(result, Placement) and _invisible(result, file):
            failures.append(invisible_change(hunk, len(hunks)))
        elif isinstance(result, Placement) and _lookalikes_unclear(result, file):
            failures.append(unclear_punctuation(hunk, len(hunks)))
        elif isinstance(result, Placement) and (gap := _in_blank_gap(result)) is not None:
            failures.append(blank_gap(hunk, len(hunks), gap))
        elif isinstance(result, Placement):
            placed.append((hunk, result))
            hint_from = _carried(hunk, result, hint_from)
            if result.tier not in _UNANCHORED and hunk.old_start is not None:
                last_stated = max(last_stated, hunk.old_start)
        elif isinstance(result, Ambiguous):
            failures.append(ambiguous(hunk, len(hunks), result.tier, result.starts))
        elif isinstance(result, Unclear):
            failures.append(unclear_indent(hunk, len(hunks), result.tier, (result.start, result.end)))
        elif result == "no-anchor":
            failures.append(no_anchor(hunk, len(hunks)))
        elif detailed >= MAX_DETAILED:
            failures.append(no_match_brief(hunk, len(hunks)))  # bounded work per answer
        else:
            detailed += 1
            clash = contradiction(hunk, index)
            squashed = squashed if squashed is not None or clash else [squash(s) for s in file.lines]
            failures.append(
                context_mismatch(hunk, len(hunks), clash.text, clash.line, file.lines) if clash
                else no_match(hunk, len(hunks), file.lines, squashed or [])
            )
    failures.extend(overlaps(placed))
    if failures:
        raise hunk_errors(path, len(hunks), failures)
    return placed


def _out_of_order(carried: _Found, stated: _Found) -> _Found:
    """A hunk whose @@ line comes before that of a hunk placed already: the offset and floor carried from
    that hunk, which lies further down the file, say nothing of this one, and its own @@ line may tell
    another story (a hunk misnumbered by 100 lines before a repeated block numbered right). Placed
    only where both readings put it; where they differ, it is ambiguous."""
    if not isinstance(carried, Placement) or (isinstance(stated, Placement) and stated.start == carried.start):
        return carried
    if isinstance(stated, Placement):
        return Ambiguous(carried.tier, tuple(sorted({carried.start + 1, stated.start + 1})))
    if isinstance(stated, Ambiguous):
        return Ambiguous(carried.tier, tuple(sorted({carried.start + 1, *stated.starts})))
    return carried


def _invisible(placement: Placement, file: FileText) -> bool:
    """Whether the hunk's new side is its old side, removing lines only to add them back as they are in
    the file: such a diff changed something its text does not show (git's line-ending conversions,
    "-a\\r" "+a", once their CRs are gone). Not git's shape for a change of the final newline alone:
    the file's last line removed and added back (see _patch_text.final_newline)."""
    removed = [(line.text, t) for line, t in zip(placement.lines, placement.mapping) if line.kind == "-"]
    if not removed or [t for _, t in removed] == [len(file.lines) - 1]:
        return False
    old = [line.text for line in placement.lines if line.kind != "+"]
    new = [line.text for line in placement.lines if line.kind != "-"]
    return old == new and all(t is not None and file.lines[t] == text for text, t in removed)


def _lookalikes_unclear(placement: Placement, file: FileText) -> bool:
    """Whether the hunk matched only with look-alike punctuation (its smart quotes or dashes for the
    file's ASCII) and its added lines have those same look-alikes: whatever turned the context's
    characters may have turned theirs, so which ones they should have is not known. A look-alike
    the file's matched lines have too (an em dash in prose) is the file's own. Odd spaces (no-break,
    thin) count although the whitespace tiers already match them as spaces: "x\u00a0= 1" in the
    context for the file's "x = 1" makes "+y\u00a0= 2" a no-break space in code."""
    turned: set[str] = set()  # look-alikes the hunk's matched lines have where the file's lines lack them
    for line, target in zip(placement.lines, placement.mapping):
        if line.kind != "+" and target is not None and line.text != file.lines[target]:
            turned |= (LOOKALIKES & set(line.text)) - set(file.lines[target])
    return any(line.kind == "+" and not turned.isdisjoint(line.text) for line in placement.lines)


def _in_blank_gap(placement: Placement) -> tuple[int, int] | None:
    """(first, last) 0-based file lines of blank lines the hunk skipped, with added lines to go among
    them: the hunk lacks those blank lines, so whether its added lines go before, among or after them
    is not known. None when every added line has its place."""
    before: int | None = None
    pending = False  # added lines seen since the last line that has a file line
    for line, target in zip(placement.lines, placement.mapping):
        if line.kind == "+":
            pending = True
        elif target is not None:
            if pending and before is not None and target - before > 1:
                return before + 1, target - 1
            before, pending = target, False
    return None


def _carried(hunk: Hunk, placement: Placement, before: tuple[int, int]) -> tuple[int, int]:
    """(offset, floor) for the next hunk: where this one landed relative to its @@ line, and where its
    last change ends (the next hunk may share the unchanged lines after it).

    A trimmed hunk counts from where its untrimmed old side would start. A hunk applied already counts
    from where its new side is, plus the lines it added: the file below it is in the diff's new numbers
    (half of a diff applied, the other half sent again), so the next hunk's old side is that much lower.
    """
    if placement.tier in _UNANCHORED:
        return before
    offset = before[0]
    start = placement.origin if placement.tier == "trimmed" else placement.start
    if hunk.old_start is not None and start is not None:
        offset = start - (hunk.old_start - 1)
    if placement.tier == "already-applied":
        grown = sum(line.kind == "+" for line in hunk.lines) - sum(line.kind == "-" for line in hunk.lines)
        return (offset + grown if hunk.old_start is not None else offset), max(before[1], placement.end)
    return offset, max(before[1], placement.change_end())


def _place_one(
    hunk: Hunk, file: FileText, index: FileIndex, hint: Hint,
) -> _Found:
    if not file.lines:
        lines = _creation_lines(hunk)
        if lines is not None:
            return Placement("create", 0, 0, lines, (None,) * len(lines))
    # A blank line that lost its prefix is too weak to anchor a hunk on its own.
    if all(line.kind == "+" or line.soft for line in hunk.lines):
        return _at_edge(hunk, len(file.lines), hint) or "no-anchor"
    return locate(hunk, index, hint)


def _creation_lines(hunk: Hunk) -> tuple[HunkLine, ...] | None:
    """The hunk as added lines only, when it is one: blank lines that lost their '+' count as added."""
    if any(line.kind != "+" and not line.soft for line in hunk.lines):
        return None
    return tuple(line if line.kind == "+" else HunkLine("+", "") for line in hunk.lines)


def _at_edge(hunk: Hunk, size: int, hint: Hint) -> Placement | None:
    """A -U0 hunk of added lines only: "-0,0" inserts before line 1, "-N,0" with N (moved by the
    offset carried so far) the file's last line appends. Anywhere else only a number would place it."""
    lines = _creation_lines(hunk)
    if lines is None or hunk.old_start is None or not _ZERO_OLD.match(hunk.header):
        return None
    if hunk.old_start == 0:
        at = 0
    elif hint.expected is not None and hint.expected + 1 == size:
        at = size
    else:
        return None
    return Placement("edge", at, at, lines, (None,) * len(lines))


def _bom_shown(file: FileText, hunks: tuple[Hunk, ...]) -> FileText:
    """A file with a BOM, for a diff with a line that starts with one: the BOM is then content of the
    first line, to be matched, kept or removed as the diff says (as git and GNU patch do)."""
    if file.bom and any(line.text.startswith("\ufeff") for hunk in hunks for line in hunk.lines if line.kind != "+"):
        return file.bom_as_content()
    return file


def _reports(placed: list[tuple[Hunk, Placement]]) -> tuple[HunkReport, ...]:
    ordered = sorted(placed, key=lambda hp: hp[0].index)
    return tuple(HunkReport(h.index, p.tier, p.start + 1) for h, p in ordered)


def _create(section: Section, path: str) -> Applied:
    """old_text is None: the diff must add every line it has."""
    if not section.hunks and not section.created:
        raise whole_diff_error(
            "missing", f"patch for {path} not applied: {path} does not exist and the diff has no hunks",
            "To create it, send '--- /dev/null', '+++ b/PATH' and its content as '+' lines.",
        )
    for hunk in section.hunks:
        if _creation_lines(hunk) is None:
            raise whole_diff_error(
                "not-creation",
                f"patch for {path} not applied: {path} does not exist, but hunk {hunk.index} has unchanged or "
                "removed lines",
                f"{path} is a new file: every line of the diff must start with '+' "
                "(headers '--- /dev/null' and '+++ b/PATH'). Send its whole content that way.",
                hunk=hunk.index,
            )
    file = FileText.parse("")
    placed = _place_all(section.hunks, file, path)
    return Applied(path, render(file, placed, final_newline(file, placed)), _reports(placed))


def _recreate(file: FileText, old_text: str, section: Section, path: str) -> Applied:
    """A creation diff for a file that exists: fine only if it holds exactly that content already."""
    created = [line.text for h in section.hunks for line in (_creation_lines(h) or h.lines) if line.kind == "+"]
    if list(file.lines) == created:
        reports = tuple(HunkReport(h.index, "already-applied", 1) for h in section.hunks)
        return Applied(path, old_text, reports)
    raise whole_diff_error(
        "exists",
        f"patch for {path} not applied: it creates {path}, but {path} already exists ({len(file.lines)} lines)",
        "Send a diff against its current content (headers '--- a/PATH', '+++ b/PATH'), not against /dev/null.",
    )


def _delete(old_text: str | None, section: Section, path: str) -> Applied:
    """A diff whose new side is /dev/null: valid when it removes the whole file or has no hunks."""
    if old_text is None:
        raise whole_diff_error("missing", f"patch for {path} not applied: it deletes {path}, which does not exist")
    if not section.hunks:
        return Applied(path, None, ())
    file = _bom_shown(FileText.parse(old_text), section.hunks)
    placed = _place_all(section.hunks, file, path)
    left = render(file, placed, final_newline(file, placed)).lstrip("\ufeff")
    if left:
        count = len(left.splitlines())
        raise whole_diff_error(
            "not-deletion",
            f"patch for {path} not applied: it deletes {path} ('+++ /dev/null') but leaves {count} of its lines",
            "To delete the file, remove every line; to edit it, use '+++ b/PATH' instead of /dev/null.",
        )
    return Applied(path, None, _reports(placed))
