"""Hunks that cover the same file lines: allowed only where both keep those lines unchanged.

Models often write neighbouring hunks whose context overlaps (hunk 1's last unchanged line
is hunk 2's first). Such a shared line is rendered once (see _patch_text.render). Any other
overlap, a line one hunk changes and the other covers, is refused: applying both would be
guesswork.
"""

from __future__ import annotations

from collections.abc import Sequence

from diffcrew.tools._patch_errors import HunkFailure, overlap
from diffcrew.tools._patch_locate import Placement
from diffcrew.tools._patch_parse import Hunk

_UNSPANNED = ("already-applied", "create", "edge")  # placements that cover no file line
Span = tuple[Hunk, Placement]


def overlaps(placed: Sequence[Span]) -> list[HunkFailure]:
    """A failure for every hunk whose span meets one placed before it in file order, unless shareable."""
    spans = sorted(
        ((h, p) for h, p in placed if p.tier not in _UNSPANNED),
        key=lambda s: (s[1].start, s[1].end, s[0].index),
    )
    failures = []
    reach: Span | None = None  # the span that reaches furthest so far
    for hunk, placement in spans:
        if reach is not None and placement.start < reach[1].end and not shareable(reach[1], placement):
            first, second = sorted((reach, (hunk, placement)), key=lambda s: s[0].index)
            failures.append(overlap(
                second[0], first[0], (second[1].start + 1, second[1].end), (first[1].start + 1, first[1].end),
            ))
        if reach is None or placement.end > reach[1].end:
            reach = (hunk, placement)
    return failures


def shareable(first: Placement, second: Placement) -> bool:
    """Whether `second` (starting inside `first`) shares only lines both leave unchanged, at first's end.

    first: from its first line on a shared file line to its end, nothing but unchanged lines;
    second: up to its last line on a shared file line, nothing but unchanged lines.
    """
    lo, hi = second.start, first.end
    if not first.start <= lo < hi <= second.end:
        return False
    inside = [k for k, t in enumerate(first.mapping) if t is not None and t >= lo]
    tail = first.lines[inside[0]:] if inside else ()
    within = [k for k, t in enumerate(second.mapping) if t is not None and t < hi]
    head = second.lines[: within[-1] + 1] if within else ()
    return all(line.kind == " " for line in (*tail, *head))
