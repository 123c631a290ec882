"""Words for the repair loop: every refusal of the patch engine, as text a model can act on.

Owns PatchRejected (the PatchError the engine raises, carrying structured failures),
the paragraph for each kind of failure, and the search for the closest real lines of
the file. The first line of every message is a one-line summary; the rest says which
hunk, why, and what the file really holds there, so one repair round is enough.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diffcrew.tools.errors import PatchError

if TYPE_CHECKING:
    from diffcrew.tools._patch_parse import Hunk

_SHOWN_HUNK_LINES = 4  # enough of a hunk to recognise it without repeating all of it
_SHOWN_FILE_LINES = 14  # file lines quoted per failure: enough to copy context from
_MAX_WIDTH = 160
_MAX_CANDIDATES = 10
_FUZZY_PROBES = 3  # hunk lines compared character-wise when no line matches even loosely
_MIN_SIMILARITY = 0.5
# Bounds on one refusal, whatever the answer holds (1,000 failing hunks took 43 s and 691 KB):
MAX_DETAILED = 10  # no-match hunks that get the (costly) search for the closest lines
_MAX_CLAUSES = 10  # failures named in the first line
_MAX_REPAIR_CHARS = 12_000  # paragraphs stop here; the rest are listed by number

TIER_WORDS = {
    "exact": "exactly",
    "trailing-ws": "ignoring trailing whitespace",
    "whitespace": "ignoring whitespace runs and blank lines",
    "indent": "ignoring indentation",
    "drift": "ignoring whitespace",
    "punctuation": "ignoring whitespace and look-alike punctuation",
    "trimmed": "after trimming outer context lines",
    "already-applied": "with the change already made, or after trimming outer context lines",
}


@dataclass(frozen=True)
class HunkFailure:
    """One reason a diff was refused. `hunk` is 1-based; 0 when the whole diff is at fault."""

    hunk: int
    reason: str  # no-diff | malformed | wrong-path | no-hunks | not-creation | exists
    #              | missing | not-deletion | no-anchor | no-match | context-mismatch | ambiguous | overlap
    #              | unclear-indent | no-change | unclear-punctuation
    summary: str  # a short clause for the first line
    message: str  # the full paragraph
    lines: tuple[int, ...] = ()  # 1-based file lines: candidates, or the conflicting span


class PatchRejected(PatchError):
    """The PatchError raised by the patch engine; `failures` says the same as str(), structured."""

    def __init__(self, text: str, failures: Sequence[HunkFailure] = ()) -> None:
        super().__init__(text)
        self.failures: tuple[HunkFailure, ...] = tuple(failures)


def whole_diff_error(reason: str, summary: str, detail: str = "", hunk: int = 0) -> PatchRejected:
    """A refusal that concerns the diff as a whole (or one line of it), not a located hunk."""
    failure = HunkFailure(hunk, reason, summary, detail or summary)
    text = summary if not detail else f"{summary}\n{detail}"
    return PatchRejected(text, (failure,))


def hunk_errors(path: str, total: int, failures: Sequence[HunkFailure]) -> PatchRejected:
    """One error for every hunk that could not be placed; nothing was applied."""
    failures = sorted(failures, key=lambda f: f.hunk)
    if len(failures) == 1:
        f = failures[0]
        head = f"patch for {path} not applied: hunk {f.hunk} of {total} {f.summary}"
        fix = "Fix that hunk"
    else:
        clauses = "; ".join(f"hunk {f.hunk} {f.summary}" for f in failures[:_MAX_CLAUSES])
        if len(failures) > _MAX_CLAUSES:
            clauses += f"; {len(failures) - _MAX_CLAUSES} more"
        head = f"patch for {path} not applied: {len(failures)} of {total} hunks failed ({clauses})"
        fix = "Fix those hunks"
    advice = f"No hunk was applied. {fix} and send the complete diff for {path} again."
    return PatchRejected(f"{head}\n{advice}\n\n{_bounded_body(failures)}", failures)


def _bounded_body(failures: Sequence[HunkFailure]) -> str:
    """The failures' paragraphs up to _MAX_REPAIR_CHARS; the rest named by hunk number only."""
    shown: list[str] = []
    size = 0
    for failure in failures:
        if shown and size + len(failure.message) > _MAX_REPAIR_CHARS:
            break
        shown.append(failure.message)
        size += len(failure.message) + 2
    rest = [str(f.hunk) for f in failures[len(shown):]]
    if rest:
        listed = ", ".join(rest[:50]) + (f" and {len(rest) - 50} more" if len(rest) > 50 else "")
        shown.append(f"[{len(rest)} more failing hunks not described here: {listed}. Most likely the diff "
                     "was not written against the file as given: copy its lines exactly.]")
    return "\n\n".join(shown)


def describe_hunk(hunk: Hunk, total: int) -> str:
    """The heading that identifies a hunk: number, where it is in the reply, first lines."""
    where = f"line {hunk.diff_line} of the diff"
    head = f"Hunk {hunk.index} of {total} ({where}" + (f", {hunk.header!r})" if hunk.header else ")")
    shown = [f"    {line.kind}{_clip(line.text)}" for line in hunk.lines[:_SHOWN_HUNK_LINES]]
    if len(hunk.lines) > _SHOWN_HUNK_LINES:
        more = len(hunk.lines) - _SHOWN_HUNK_LINES
        shown.append(f"    ... ({more} more line{'s' if more > 1 else ''})")
    return f"{head} begins:\n" + "\n".join(shown)


def no_anchor(hunk: Hunk, total: int) -> HunkFailure:
    """A hunk of added lines only, in a file that is not empty: nothing says where it goes."""
    text = (
        f"{describe_hunk(hunk, total)}\n"
        "It has only added lines, so nothing says where they go. Include at least one unchanged "
        "line (starting with ' ') copied from the file above or below the insertion point."
    )
    return HunkFailure(hunk.index, "no-anchor", "has no context or removed lines to locate it by", text)


def ambiguous(hunk: Hunk, total: int, tier: str, starts: Sequence[int]) -> HunkFailure:
    """A hunk whose old side fits several places equally well at the first tier that fits at all."""
    listed = _list_lines(starts)
    how = TIER_WORDS.get(tier, tier)
    if tier == "already-applied" and len(starts) == 1:
        text = (
            f"{describe_hunk(hunk, total)}\n"
            f"Both its old side and its new side are in the file at line {listed}, as its @@ header says: "
            "its added lines repeat the lines already there, so it may have been applied already. If the "
            "file is as you want it, send nothing for this hunk; to add the lines again, add unchanged lines "
            "after the change that show where."
        )
        return HunkFailure(hunk.index, "ambiguous", f"may be applied already (line {listed})", text, tuple(starts))
    stated = ""
    if hunk.old_start is not None:
        stated = f" The @@ header says line {hunk.old_start}, which is not one of them."
    text = (
        f"{describe_hunk(hunk, total)}\n"
        f"Its unchanged and removed lines match {len(starts)} places in the file ({how}), "
        f"starting at lines {listed}.{stated} Add unchanged lines above or below the change that "
        "differ between those places, or put the intended start line in the @@ header."
    )
    summary = f"matches {len(starts)} places (lines {listed})"
    return HunkFailure(hunk.index, "ambiguous", summary, text, tuple(starts))


def unclear_indent(hunk: Hunk, total: int, tier: str, span: tuple[int, int]) -> HunkFailure:
    """A hunk that fits one place ignoring indentation, whose context is off from the file's by
    different amounts around its added lines: how far to indent them is not known."""
    how = TIER_WORDS.get(tier, tier)
    text = (
        f"{describe_hunk(hunk, total)}\n"
        f"Its unchanged and removed lines match lines {span[0]}-{span[1]} of the file only {how}, and its "
        "indentation is off from the file's by different amounts around its added lines (or by more than "
        "an added line is indented), so how far to indent the added lines is not known (inside a block or "
        "after it). Copy the unchanged lines with the file's exact indentation, and indent the added lines "
        "to match."
    )
    summary = f"matches lines {span[0]}-{span[1]} only with indentation that leaves its added lines' unclear"
    return HunkFailure(hunk.index, "unclear-indent", summary, text, (span[0],))


def invisible_change(hunk: Hunk, total: int) -> HunkFailure:
    """A hunk that removes lines and adds back the same text: what it changes is not in the diff's text."""
    text = (
        f"{describe_hunk(hunk, total)}\n"
        "It removes lines and adds back exactly the same text, so it changes nothing this diff shows "
        "(line endings or other invisible characters are lost). Leave those lines unchanged, or send the "
        "lines as they should be."
    )
    return HunkFailure(hunk.index, "no-change", "adds back exactly the lines it removes", text)


def blank_gap(hunk: Hunk, total: int, gap: tuple[int, int]) -> HunkFailure:
    """A hunk placed ignoring blank lines, whose added lines fall where the file has blank lines the
    hunk lacks: before, among or after them is not known."""
    lines = f"line {gap[0] + 1}" if gap[0] == gap[1] else f"lines {gap[0] + 1}-{gap[1] + 1}"
    text = (
        f"{describe_hunk(hunk, total)}\n"
        f"It matches the file only ignoring blank lines, and its added lines go where the file has blank "
        f"{lines}, which the hunk does not have: whether they go before or after those blank lines is not "
        "known. Copy the unchanged lines around the change exactly, blank lines included (as ' ' lines)."
    )
    return HunkFailure(hunk.index, "ambiguous", f"skips blank {lines} where its added lines go", text,
                       (gap[0] + 1,))


def unclear_punctuation(hunk: Hunk, total: int) -> HunkFailure:
    """A hunk that matched only with look-alike punctuation whose added lines have look-alikes too."""
    text = (
        f"{describe_hunk(hunk, total)}\n"
        "Its unchanged or removed lines match the file only when look-alike punctuation counts as equal "
        "(typographic quotes, dashes or spaces for plain ASCII, or the reverse), and its added lines have "
        "such characters too: which characters they should have is not known. Copy the unchanged lines "
        "exactly, and write the added lines with the characters the file should get."
    )
    return HunkFailure(hunk.index, "unclear-punctuation", "has look-alike punctuation in context and added lines",
                       text)


def overlap(hunk: Hunk, other: Hunk, span: tuple[int, int], other_span: tuple[int, int]) -> HunkFailure:
    """Two hunks whose located old sides share file lines; applying both would be guesswork."""
    text = (
        f"Hunk {hunk.index} (line {hunk.diff_line} of the diff) overlaps hunk {other.index}: "
        f"hunk {other.index} covers file lines {other_span[0]}-{other_span[1]} and hunk {hunk.index} "
        f"covers lines {span[0]}-{span[1]}. Merge them into one hunk, or drop the duplicate."
    )
    summary = f"overlaps hunk {other.index}"
    return HunkFailure(hunk.index, "overlap", summary, text, span)


def no_match(hunk: Hunk, total: int, lines: Sequence[str], squashed: Sequence[str]) -> HunkFailure:
    """A hunk whose old side fits nowhere: quote the closest real lines so the model can copy them."""
    old = [line.text for line in hunk.lines if line.kind != "+"]
    text = (
        f"{describe_hunk(hunk, total)}\n"
        f"Its {len(old)} unchanged and removed lines match no place in the file, even ignoring whitespace, "
        "indentation and look-alike punctuation, and trimming outer context lines (never the unchanged "
        "line right before or after a change)."
    )
    start = closest_start(old, squashed, hunk.old_start)
    if start is None:
        text += " No line of the file resembles them; check that this is the right file."
    else:
        text += "\n" + _window(old, lines, start)
    text += "\nCopy unchanged and removed lines exactly from the file, each prefixed by ' ' or '-'."
    return HunkFailure(hunk.index, "no-match", "matches no place in the file", text)


def context_mismatch(hunk: Hunk, total: int, text: str, line: int, lines: Sequence[str]) -> HunkFailure:
    """A hunk that fits only if an unchanged line next to its change is ignored: that line contradicts
    the file, so where the change goes is not known. Name the line and quote the file around it."""
    real = lines[line] if line < len(lines) else ""
    lo, hi = max(0, line - 3), min(len(lines), line + 4)
    quoted = "\n".join(f"{i + 1:>6} | {_clip(lines[i])}" for i in range(lo, hi))
    detail = (
        f"{describe_hunk(hunk, total)}\n"
        f"Its unchanged line {_clip(text)!r}, right next to the change, is not in the file: where the rest of "
        f"the hunk fits, line {line + 1} is {_clip(real)!r}. Lines {lo + 1}-{hi} of the file:\n{quoted}\n"
        "Copy the unchanged lines around the change exactly from the file, each prefixed by ' '."
    )
    summary = f"has unchanged line {_short(text)!r} next to its change where line {line + 1} is {_short(real)!r}"
    return HunkFailure(hunk.index, "context-mismatch", summary, detail, (line + 1,))


def no_match_brief(hunk: Hunk, total: int) -> HunkFailure:
    """no_match without the search for the closest lines: for hunks past MAX_DETAILED."""
    text = f"{describe_hunk(hunk, total)}\nIt matches no place in the file."
    return HunkFailure(hunk.index, "no-match", "matches no place in the file", text)


def squash(text: str) -> str:
    """A line with all whitespace runs collapsed and ends stripped: the loosest comparison."""
    return " ".join(text.split())


def closest_start(old: Sequence[str], squashed: Sequence[str], stated: int | None) -> int | None:
    """0-based file line where the hunk's old side most plausibly was meant to start."""
    wanted: dict[str, list[int]] = {}
    for j, text in enumerate(old):
        key = squash(text)
        if key:
            wanted.setdefault(key, []).append(j)
    votes: Counter[int] = Counter()
    for i, key in enumerate(squashed):
        for j in wanted.get(key, ())[:8]:  # a line repeated in the hunk must not swamp the vote
            votes[i - j] += 1
    near = (stated - 1) if stated else 0
    if votes:
        best = max(votes, key=lambda s: (votes[s], -abs(s - near)))
        return max(0, best)
    return _fuzzy_start(old, squashed)


def _fuzzy_start(old: Sequence[str], squashed: Sequence[str]) -> int | None:
    """Fall back to character similarity (error path only) for the first few hunk lines."""
    probes = [(j, squash(t)) for j, t in enumerate(old) if t.strip()][:_FUZZY_PROBES]
    best, where = _MIN_SIMILARITY, None
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    for j, probe in probes:
        matcher.set_seq2(probe)  # seq2 is the cached side; the file lines vary
        for i, key in enumerate(squashed):
            if not key:
                continue
            matcher.set_seq1(key)
            if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
                continue
            ratio = matcher.ratio()
            if ratio > best:
                best, where = ratio, max(0, i - j)
    return where


def _window(old: Sequence[str], lines: Sequence[str], start: int) -> str:
    """The file lines around `start` with numbers, and the first line where the hunk differs."""
    start = min(start, max(0, len(lines) - 1))
    lo = max(0, start - 1)
    hi = min(len(lines), start + len(old) + 1, lo + _SHOWN_FILE_LINES)
    quoted = "\n".join(f"{i + 1:>6} | {_clip(lines[i])}" for i in range(lo, hi))
    text = f"The closest lines in the file are {lo + 1}-{hi}:\n{quoted}"
    for j, want in enumerate(old):
        i = start + j
        if i >= len(lines):
            return text + f"\nThe file ends at line {len(lines)}, before the hunk's line {want!r}."
        if lines[i] != want:
            same_words = lines[i].split() == want.split()
            show = repr if same_words else (lambda s: repr(_clip(s)))
            note = " (they differ only in whitespace)" if same_words else ""
            return text + f"\nFirst difference: the diff has {show(want)} where line {i + 1} is {show(lines[i])}{note}."
    return text


def _list_lines(starts: Sequence[int]) -> str:
    shown = ", ".join(str(s) for s in starts[:_MAX_CANDIDATES])
    if len(starts) > _MAX_CANDIDATES:
        shown += f" and {len(starts) - _MAX_CANDIDATES} more"
    return shown


def _short(text: str) -> str:
    """A line cut to fit the one-line summary."""
    text = text.strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_WIDTH else text[: _MAX_WIDTH - 3] + "..."
