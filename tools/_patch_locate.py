"""Locating hunks: the tiered search for the one place a hunk's old side fits.

Owns the order of the tiers, the already-applied check and outer-context trimming; what
"equal" means at each tier and the file index live in _patch_match, indentation shifts in
_patch_shift. It returns placements; it never edits text and never words errors.

Tiers, in order: exact-line (exact, at the @@ line), exact, trailing-ws, whitespace
(runs collapsed, blank lines skipped on both sides), indent (leading whitespace ignored,
one uniform shift; added lines re-indented by it), drift (the same match, indentation
drifting line by line; added lines re-indented by the shift most lines agree on),
punctuation (as drift, look-alike Unicode punctuation equal to ASCII), already-applied (old
side absent, new side present with every added line byte for byte; never for a removal
alone), trimmed (outer context dropped, never a context line next to a change). The first
tier with any candidate decides: one candidate wins; among several, line numbers break
ties only (see _patch_match.choose): the expected line is the @@ line plus the offset at
which the hunk before it landed, as GNU patch carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from diffcrew.tools._patch_match import (
    Ambiguous, FileIndex, Hint, Mapping, Placement, Unclear, choose, content_key, match_side, place,
)
from diffcrew.tools._patch_parse import Hunk, HunkLine
from diffcrew.tools._patch_shift import Pair, aligned, indent_of, steady, uniform, voted, width_of

__all__ = ["Ambiguous", "Clash", "FileIndex", "Hint", "Placement", "Unclear", "contradiction", "locate"]

SEARCH_TIERS = ("exact", "trailing-ws", "whitespace", "indent", "punctuation")
_TRIM_TIERS = ("whitespace", "indent", "punctuation")


def locate(hunk: Hunk, index: FileIndex, hint: Hint | None = None) -> Placement | Ambiguous | Unclear | None:
    """The one place the hunk fits (see _find), unless the indentation its added lines need is unknown."""
    hint = hint or Hint.of(hunk)
    found = _find(hunk, index, hint)
    if isinstance(found, Placement) and found.shift is not None and not (
            steady(bounds := _bounds(found, index), found.shift) and found.shift.fits(found.lines)
            and (uniform(_pairs(found, index)) is not None or aligned(bounds, found.shift))
            and not _reindents_only(found, index)):
        return Unclear(found.tier, found.start + 1, found.end)
    if isinstance(found, Placement) and found.tier != "already-applied" \
            and (done := _done_where_stated(hunk, index, hint)) is not None:
        # Sent again after it was applied? Its new side is right at its stated line, and its old side
        # elsewhere, or there too (the added lines repeat the file's next lines: add them again?).
        return Ambiguous("already-applied", tuple(sorted({found.start + 1, done + 1})))
    return found


def _reindents_only(placement: Placement, index: FileIndex) -> bool:
    """Whether a run of changed lines only re-indents lines, in a hunk matched ignoring indentation (its
    change is in exactly what did not match), and how far is not known: the removed lines are off from
    the file's by another amount than the shift the added lines get, or the file's lines already have the
    added lines' text (done already, or to be shifted again?) and that shift is only a vote ("drift") or
    only the removed lines' own. Under a uniform shift its unchanged lines show too, the whole hunk agrees
    on how far off it is, so the change is known."""
    shift = placement.shift
    assert shift is not None
    lines, mapping = placement.lines, placement.mapping
    k = 0
    while k < len(lines):
        end = k
        while end < len(lines) and lines[end].kind != " ":
            end += 1
        removed = [(line.text, index.lines[t]) for line, t in zip(lines[k:end], mapping[k:end])
                   if line.kind == "-" and t is not None and line.text.strip()]
        added = [line.text for line in lines[k:end] if line.kind == "+" and line.text.strip()]
        if removed and [content_key(h) for h, _ in removed] == [content_key(a) for a in added] \
                and [h for h, _ in removed] != added and (
                    ([f for _, f in removed] == added and not _evenly_shifted(placement, index)) or any(
                        width_of(indent_of(f), shift.tab_size) != width_of(indent_of(h), shift.tab_size) + shift.delta
                        for h, f in removed)):
            return True
        k = end + 1
    return False


def _evenly_shifted(placement: Placement, index: FileIndex) -> bool:
    """Whether every matched line agrees on one shift, and some unchanged line shows it: the removed lines
    alone (a -U0 hunk) say nothing of how far off the hunk is, since they are what it changes."""
    unchanged = any(line.kind == " " and t is not None and line.text.strip()
                    for line, t in zip(placement.lines, placement.mapping))
    return unchanged and uniform(_pairs(placement, index)) is not None


def _done_where_stated(hunk: Hunk, index: FileIndex, hint: Hint) -> int | None:
    """Where the hunk's new side is, byte for byte, at the line its @@ header states for it, when it adds a
    non-blank line; None otherwise. Stated for it: its new @@ line moved by the carried offset (the hunks
    before it were applied earlier, in another answer), or the expected line itself (the offset carried
    from hunks found applied already counts their added lines: the file is in the new numbers there)."""
    if hunk.new_start is None or hunk.old_start is None or hint.expected is None:
        return None
    if not any(line.kind == "+" and line.text.strip() for line in hunk.lines):
        return None
    new = [line.text for line in hunk.lines if line.kind != "-"]
    if new == [line.text for line in hunk.lines if line.kind != "+"]:
        return None  # a change the text does not show (the final newline): its sides look the same
    for at in (hunk.new_start - 1 + hint.expected - (hunk.old_start - 1), hint.expected):
        if at >= 0 and list(index.lines[at: at + len(new)]) == new:
            return at
    return None


def _find(hunk: Hunk, index: FileIndex, hint: Hint) -> Placement | Ambiguous | None:
    """The one place the hunk fits, the candidates when several fit equally, or None.

    Every candidate of a tier is found before one is chosen: an exact match at the stated line
    wins only as a tie-break ("exact-line"), never before uniqueness is checked.
    """
    old = [line.text for line in hunk.lines if line.kind != "+"]
    at = hint.expected
    if at is not None and at >= 0 and list(index.lines[at: at + len(old)]) == old:
        # The expected line wins every tie at the exact tier, so no other candidate can beat it.
        return _exact_tier(hunk, place("exact", hunk.lines, list(range(at, at + len(old)))))
    for tier in SEARCH_TIERS:
        found = _shifted([p for m in match_side(tier, old, index) if _removes_real(p := place(tier, hunk.lines, m))],
                         index)
        if found:
            choice = choose({p.start: p for p in reversed(found)}, hint, found[0].tier)
            return _exact_tier(hunk, choice) if tier == "exact" else choice
    done = _already_applied(hunk, index)
    return _done_or_trimmed(hunk, done, index, hint) if done else _trimmed(hunk, index, hint)


def _done_or_trimmed(hunk: Hunk, done: Placement, index: FileIndex, hint: Hint) -> Placement | Ambiguous:
    """The hunk's new side is in the file, but its old side may also fit elsewhere once outer context is
    trimmed (the model copied a context line from the copy that already has the change): then which one
    it meant is only known from the line numbers, the new side's or the old side's as for any tie."""
    elsewhere = {k: p for k, p in _trimmings(hunk, index).items() if p.end <= done.start or p.start >= done.end}
    if not elsewhere:
        return done
    if hunk.new_start is not None and hunk.new_start - 1 == done.start:
        return done
    if hint.expected is not None and hint.expected in elsewhere:
        return elsewhere[hint.expected]
    return Ambiguous("already-applied", tuple(sorted([done.start + 1, *(p.start + 1 for p in elsewhere.values())])))


def _removes_real(placement: Placement) -> bool:
    """Whether every removed line, and every unchanged line next to a change, is a line of the file.

    The loose tiers skip blank lines, but a removed blank line the file does not have is not there to
    remove, and a blank line next to a change is what places it (the policy's rule 1): without them
    '-b' / ' ' would remove any 'b' (the diff was made against other text, or was applied already).
    A blank line written without its space is exempt: it may be the blank line after the hunk.
    """
    lines, mapping = placement.lines, placement.mapping
    last = len(lines) - 1
    return all(
        t is not None for k, (line, t) in enumerate(zip(lines, mapping))
        if line.kind == "-" or (line.kind == " " and not line.soft and (
            (k > 0 and lines[k - 1].kind != " ") or (k < last and lines[k + 1].kind != " ")))
    )


def _exact_tier(hunk: Hunk, choice: Placement | Ambiguous) -> Placement | Ambiguous:
    """An exact placement at the hunk's own @@ line is reported as "exact-line"."""
    if isinstance(choice, Placement) and hunk.old_start == choice.start + 1:
        return replace(choice, tier="exact-line")
    return choice


def _shifted(found: list[Placement], index: FileIndex) -> list[Placement]:
    """Give placements that ignored indentation their shift.

    At the indent tier only the candidates with one uniform shift count; when none has one, all
    of them are "drift" candidates, re-indented by the shift most of their lines agree on.
    """
    if not found or found[0].tier not in ("indent", "punctuation", "trimmed"):
        return found
    pairs = [_pairs(p, index) for p in found]
    if found[0].tier == "indent":
        even = [replace(p, shift=s) for p, s in ((p, uniform(q)) for p, q in zip(found, pairs)) if s is not None]
        if even:
            return even
        return [replace(p, tier="drift", shift=voted(q)) for p, q in zip(found, pairs)]
    return [replace(p, shift=uniform(q) or voted(q)) for p, q in zip(found, pairs)]


def _bounds(placement: Placement, index: FileIndex) -> list[list[tuple[str, Pair]]]:
    """Per run of added lines: its first non-blank line with the nearest matched non-blank line above
    it, and its last with the nearest below (either missing at the hunk's edge), as (added text,
    (file line, hunk line))."""
    lines, mapping = placement.lines, placement.mapping
    matched: list[Pair | None] = [
        (index.lines[t], line.text) if line.kind != "+" and t is not None and line.text.strip() else None
        for line, t in zip(lines, mapping)
    ]
    out: list[list[tuple[str, Pair]]] = []
    above: Pair | None = None
    run: list[tuple[str, Pair]] | None = None  # the bounds of the run of added lines being read
    last: str | None = None
    for line, pair in zip(lines, matched):
        if line.kind == "+" and line.text.strip():
            if run is None:
                run = [(line.text, above)] if above is not None else []
                out.append(run)
            last = line.text
        elif pair is not None:
            if run is not None and last is not None:
                run.append((last, pair))
            run, last = None, None
            above = pair
    return out


def _pairs(placement: Placement, index: FileIndex) -> list[tuple[str, str]]:
    return [
        (index.lines[t], line.text)
        for line, t in zip(placement.lines, placement.mapping)
        if t is not None and line.text.strip()
    ]


def _already_applied(hunk: Hunk, index: FileIndex) -> Placement | None:
    """The hunk's new side, found once while its old side is absent: the change is already there.

    Only added text is evidence: a hunk must add a non-blank line, and every added line must be in
    the file byte for byte (context may match loosely). A removal alone proves nothing (what it
    leaves is in the file either way), nor does a whitespace-only change matched at a loose tier.
    A hunk that sets the final-newline state must end at the file's end, in that state.
    """
    if not any(line.kind == "+" and line.text.strip() for line in hunk.lines):
        return None
    new_lines = [line for line in hunk.lines if line.kind != "-"]
    new = [line.text for line in new_lines]
    for tier in ("exact", "trailing-ws", "whitespace"):
        found = [m for m in match_side(tier, new, index) if _added_exact(new_lines, m, index)]
        spans = {min(t for t in m if t is not None): m for m in found}
        if not spans:
            continue
        start = next(iter(spans)) if len(spans) == 1 else None
        if start is None and hunk.new_start is not None and (hunk.new_start - 1) in spans:
            start = hunk.new_start - 1
        if start is None:
            return None
        end = max(t for t in spans[start] if t is not None) + 1
        if (hunk.old_no_eol or hunk.new_no_eol) and (
            end != len(index.lines) or index.final_newline == hunk.new_no_eol
        ):
            return None  # the diff changes the final newline, and the file is not in its new state
        return Placement("already-applied", start, end, (), ())
    return None


def _added_exact(new_lines: Sequence[HunkLine], mapping: Mapping, index: FileIndex) -> bool:
    return all(
        line.kind != "+" or (target is not None and index.lines[target] == line.text)
        for line, target in zip(new_lines, mapping)
    )


def _trim_limits(lines: Sequence[HunkLine], strict: bool) -> tuple[int, int] | None:
    """How many unchanged lines may go from the front and from the back (None: no change at all).

    Strict (the policy): never the unchanged line right before or after the change.
    """
    changed = [k for k, line in enumerate(lines) if line.kind != " "]
    if not changed:
        return None
    lead, trail = changed[0], len(lines) - 1 - changed[-1]
    if not strict:
        return lead, trail
    # A blank line protects nothing (the loose tiers skip blank lines): keep the nearest non-blank one too.
    solid = [k for k, line in enumerate(lines) if line.text.strip()]
    front = max((k for k in solid if k < changed[0]), default=None)
    back = min((k for k in solid if k > changed[-1]), default=None)
    return (
        min(max(0, lead - 1), front if front is not None else lead),
        min(max(0, trail - 1), len(lines) - 1 - back if back is not None else trail),
    )


def _trimmings(hunk: Hunk, index: FileIndex, strict: bool = True) -> dict[int, Placement]:
    """The placements of the hunk with the fewest outer lines dropped that fits anywhere,
    keyed by where the untrimmed hunk would start (so the @@ line can break ties)."""
    lines = hunk.lines
    limits = _trim_limits(lines, strict)
    if limits is None:
        return {}
    lead, trail = limits
    if not index.has_all([line.text for line in lines[lead: len(lines) - trail] if line.kind != "+"]):
        return {}  # a line that no trimming drops is nowhere in the file
    for total in range(1, lead + trail + 1):
        for tier in _TRIM_TIERS:
            found: dict[int, Placement] = {}
            for front in range(max(0, total - trail), min(total, lead) + 1):
                part = lines[front: len(lines) - (total - front)]
                if not any(line.kind != "+" and line.text.strip() for line in part):
                    continue  # never a match on added or blank lines alone: a removed line is evidence
                old = [line.text for line in part if line.kind != "+"]
                for mapping in match_side(tier, old, index):
                    placement = place("trimmed", part, mapping)
                    if _removes_real(placement):
                        found.setdefault(placement.start - front, placement)
            if found:
                shifted = _shifted(list(found.values()), index) if tier != "whitespace" else list(found.values())
                return {key: replace(p, origin=key) for key, p in zip(found, shifted)}
    return {}


def _trimmed(hunk: Hunk, index: FileIndex, hint: Hint) -> Placement | Ambiguous | None:
    """Drop unchanged lines from the hunk's outer edges, fewest first, until it fits somewhere."""
    found = _trimmings(hunk, index)
    if not found:
        return None
    choice = choose(found, hint, "trimmed")
    if isinstance(choice, Ambiguous):
        return Ambiguous("trimmed", tuple(sorted(p.start + 1 for p in found.values())))
    return choice


@dataclass(frozen=True)
class Clash:
    """An unchanged line next to a change that contradicts the file where the rest of the hunk fits."""

    text: str  # the hunk's line
    line: int  # 0-based file line it would have to be


def contradiction(hunk: Hunk, index: FileIndex) -> Clash | None:
    """For a hunk that fits nowhere: the context line next to its change that the file contradicts,
    found by trimming that line too (error path only; the policy never applies such a trim)."""
    found = _trimmings(hunk, index, strict=False)
    if len(found) != 1:
        return None
    (key, placement), = found.items()
    front = placement.start - key
    kept = [(k, t) for k, t in enumerate(placement.mapping) if t is not None]
    if not kept:
        return None
    old_index = _old_indexes(hunk.lines)
    first_k, first_t = kept[0]
    last_k, last_t = kept[-1]
    changed = [k for k, line in enumerate(hunk.lines) if line.kind != " "]
    for k in (changed[0] - 1, changed[-1] + 1):
        if not 0 <= k < len(hunk.lines) or k in range(front, front + len(placement.lines)):
            continue
        anchor_k, anchor_t = (first_k, first_t) if k < front else (last_k, last_t)
        line = anchor_t + old_index[k] - old_index[front + anchor_k]
        real = index.lines[line] if 0 <= line < len(index.lines) else None
        if real is None or content_key(real) != content_key(hunk.lines[k].text):
            return Clash(hunk.lines[k].text, min(max(line, 0), max(len(index.lines) - 1, 0)))
    return None


def _old_indexes(lines: Sequence[HunkLine]) -> list[int]:
    """Per hunk line, how many old-side lines come before it."""
    out, count = [], 0
    for line in lines:
        out.append(count)
        count += line.kind != "+"
    return out
