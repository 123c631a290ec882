"""The file side of patching: lines with their own endings, the BOM, and assembling the result.

Owns byte fidelity: unchanged lines keep the file's exact text and line ending, added
lines take the ending of the lines around them (the file's dominant one where those
differ), and the BOM and final-newline state survive unless the diff says otherwise with
"\\ No newline at end of file"; a CR that ends a file without a final newline is content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diffcrew.tools._patch_locate import Placement
from diffcrew.tools._patch_parse import Hunk

_BOM = "\ufeff"
Placed = Sequence[tuple[Hunk, Placement]]


@dataclass(frozen=True)
class FileText:
    bom: bool
    lines: tuple[str, ...] | list[str]  # contents without line endings
    eols: tuple[str, ...] | None  # per-line endings, only when they are mixed
    eol: str  # the dominant ending: every line's when eols is None, and added lines'
    final_newline: bool  # an empty file counts as True: text added to it ends with a newline

    @classmethod
    def parse(cls, text: str) -> FileText:
        bom = text.startswith(_BOM)
        if bom:
            text = text[1:]
        if not text:
            return cls(bom, (), None, "\n", True)
        final = text.endswith("\n")
        crlf, lf = text.count("\r\n"), text.count("\n")
        if crlf == 0 or crlf == lf:  # uniform endings: one C-level split, no per-line work
            eol = "\r\n" if crlf else "\n"
            lines = text.split(eol)
            if final:
                lines.pop()
            return cls(bom, lines, None, eol, final)
        raw = text.split("\n")
        if final:
            raw.pop()
        # The last line's missing newline is kept as final_newline, so every line has an ending here;
        # without one, a CR that ends the file is its last line's content, as on the uniform path.
        eol = "\r\n" if crlf * 2 > lf else "\n"
        cut = len(raw) if final else len(raw) - 1
        eols = tuple("\r\n" if s.endswith("\r") and i < cut else "\n" if i < cut else eol for i, s in enumerate(raw))
        lines = [s[:-1] if s.endswith("\r") and i < cut else s for i, s in enumerate(raw)]
        return cls(bom, lines, eols, eol, final)

    def bom_as_content(self) -> FileText:
        """The same file with its BOM as the first line's first character: for a diff whose lines
        show the BOM (git and GNU patch see it as content, so a diff may keep, add or remove it)."""
        if not self.bom or not self.lines:
            return self
        return FileText(False, [_BOM + self.lines[0], *self.lines[1:]], self.eols, self.eol, self.final_newline)

    def ending(self, i: int) -> str:
        return self.eol if self.eols is None else self.eols[i]

    def chunk(self, start: int, end: int) -> str:
        """Lines start..end-1 exactly as the file has them, each with its ending."""
        if end <= start:
            return ""
        if self.eols is None:
            return self.eol.join(self.lines[start:end]) + self.eol
        return "".join(c + e for c, e in zip(self.lines[start:end], self.eols[start:end]))


def final_newline(file: FileText, placed: Placed) -> bool:
    """Whether the result ends with a newline: the file's state unless a hunk at the end says otherwise.

    Without any marker the state is kept (a model that omits it means no change), except for git's
    own shape of adding the newline to a file that lacks it: its last line removed, then added again
    with the same text. That pair means nothing else, so the marker after it was lost in transit.
    """
    state = file.final_newline
    for hunk, placement in placed:
        if placement.tier == "already-applied" or placement.end < len(file.lines):
            continue
        last_old = max((k for k, line in enumerate(hunk.lines) if line.kind != "+"), default=None)
        readded = last_old is not None and hunk.lines[last_old].kind == "-" and any(
            line.kind == "+" and line.text == hunk.lines[last_old].text for line in hunk.lines[last_old + 1:])
        if hunk.new_no_eol:
            state = False
        elif hunk.old_no_eol or (readded and not file.final_newline):
            state = True  # the old side lacked it and the new side does not: the diff adds it
    return state


def render(file: FileText, placed: Placed, final_nl: bool) -> str:
    """The new text: file lines outside the placements untouched, each placement applied in file order."""
    parts: list[str] = [_BOM if file.bom else ""]
    pos = 0
    for _, placement in sorted(placed, key=lambda hp: (hp[1].start, hp[1].end, hp[0].index)):
        if placement.tier == "already-applied":
            continue
        parts.append(file.chunk(pos, placement.start))
        _render_one(file, placement, parts, pos)
        pos = max(pos, placement.end)
    parts.append(file.chunk(pos, len(file.lines)))
    text = "".join(parts)
    if not final_nl and text.endswith("\n"):
        # Drop exactly the ending the last line got: a CR before it is content ("b\r", no newline).
        text = text[:-2] if text.endswith("\r\n") and _last_ending(file, placed) == "\r\n" else text[:-1]
    return text


def _last_ending(file: FileText, placed: Placed) -> str:
    """The ending render gave the result's last line: an added line's when a hunk ends the file with
    one, else the file's last line's."""
    if file.eols is None:
        return file.eol
    for _, placement in placed:
        if placement.tier == "already-applied" or placement.end < len(file.lines) or not placement.lines:
            continue
        shown = [k for k, line in enumerate(placement.lines) if line.kind != "-"]
        if shown and placement.lines[shown[-1]].kind == "+":
            return _added_endings(file, placement)[shown[-1]]
    return file.eols[-1] if file.eols else file.eol


def _render_one(file: FileText, placement: Placement, parts: list[str], done: int = 0) -> None:
    """Append the placement's result; file lines before `done` were rendered already (the unchanged
    lines a hunk shares with the one before it), so they are not repeated."""
    at = max(placement.start, done)
    shift = placement.shift
    endings = _added_endings(file, placement)
    for line, target, ending in zip(placement.lines, placement.mapping, endings):
        if line.kind == "+":
            parts.append((shift.apply(line.text) if shift else line.text) + ending)
            continue
        if target is None or target < done:
            continue  # a blank line of the hunk that the file does not have, or one already rendered
        # Blank lines the file has and the hunk skipped stay where they are.
        parts.append(file.chunk(at, target))
        if line.kind == " ":
            parts.append(file.lines[target] + file.ending(target))
        at = target + 1
    parts.append(file.chunk(at, placement.end))


def _added_endings(file: FileText, placement: Placement) -> list[str]:
    """Per hunk line, the ending an added line there gets: in a mixed file, that of the lines it
    replaces when they agree, else that of the file lines just before and after it when they agree
    (a CRLF region stays CRLF), else the dominant one."""
    size = len(placement.mapping)
    if file.eols is None:
        return [file.eol] * size
    eols = file.eols
    before: list[str | None] = []
    last: str | None = None
    for target in placement.mapping:
        before.append(last)
        last = eols[target] if target is not None else last
    out = [file.eol] * size
    nxt: str | None = None
    for k in range(size - 1, -1, -1):
        near = {e for e in (before[k], nxt) if e is not None}
        if len(near) == 1:
            out[k] = near.pop()
        target = placement.mapping[k]
        nxt = eols[target] if target is not None else nxt
    _replaced_endings(placement, eols, out)
    return out


def _replaced_endings(placement: Placement, eols: Sequence[str], out: list[str]) -> None:
    """Added lines that replace removed ones take the removed lines' ending when those agree: a line
    edited in place keeps its ending (the CRLF line of an LF file stays CRLF, and the reverse)."""
    lines, mapping = placement.lines, placement.mapping
    k = 0
    while k < len(lines):
        if lines[k].kind == " ":
            k += 1
            continue
        end = k
        while end < len(lines) and lines[end].kind != " ":
            end += 1
        removed = {eols[t] for line, t in zip(lines[k:end], mapping[k:end]) if line.kind == "-" and t is not None}
        if len(removed) == 1:
            ending = removed.pop()
            for j in range(k, end):
                if lines[j].kind == "+":
                    out[j] = ending
        k = end
