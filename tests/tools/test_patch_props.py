"""Property tests of the patch engine: exact diffs reproduce the new file, recoverable sloppiness
still does, and no line outside the located hunks ever changes."""

from __future__ import annotations

import difflib
import re

import pytest
import unidiff
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import _place_all, apply_diff  # _place_all: to see the located spans
from diffcrew.tools._patch_parse import parse_diff
from diffcrew.tools._patch_text import FileText

pytestmark = pytest.mark.slow  # the slow tier: hypothesis property tests

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["alpha", "beta", "gamma", "délta", "ε", "zeta", "名前", "theta", "iota", "kappa"]
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


@st.composite
def files(draw: st.DrawFn, indent: str = "", tabs: bool = False) -> list[str]:
    """Lines that are unique once whitespace is ignored; blank lines never adjacent."""
    count = draw(st.integers(0, 30))
    lines: list[str] = []
    for i in range(count):
        if lines and lines[-1].strip() and i + 1 < count and draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "  "])) if not indent else "")
            continue
        depth = draw(st.integers(0, 2))
        lead = indent + ("\t" * depth if tabs else "    " * depth)
        tail = draw(st.sampled_from(["", "", "", " ", "\t "])) if not indent else ""
        lines.append(f"{lead}{draw(st.sampled_from(WORDS))}_{i} = {i}{tail}")
    return lines


@st.composite
def edits(draw: st.DrawFn, old: list[str], indent: str = "", tabs: bool = False) -> list[str]:
    """The file after a few random replacements, deletions and insertions of fresh lines."""
    new = list(old)
    for k in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"] if new else ["insert"]))
        at = draw(st.integers(0, len(new) - (op != "insert")))
        depth = draw(st.integers(0, 2))
        line = f"{indent}{chr(9) * depth if tabs else '    ' * depth}new_{k} = f({k})"
        if op == "insert":
            new.insert(at, line)
        elif op == "delete":
            del new[at]
        else:
            new[at] = line
    return new


@st.composite
def file_shapes(draw: st.DrawFn) -> tuple[str, bool, bool]:
    return draw(st.sampled_from(["\n", "\r\n"])), draw(st.booleans()), draw(st.booleans())


def text_of(lines: list[str], eol: str, final: bool, bom: bool, was_empty: bool = False) -> str:
    eol = "\n" if was_empty else eol  # an empty file has no ending of its own to pass on
    body = eol.join(lines) + (eol if lines and (final or was_empty) else "")
    return ("\ufeff" if bom else "") + body


def expected(old: list[str], new: list[str], eol: str, final: bool, bom: bool) -> str:
    """The new file as the engine must write it: the old file's ending, BOM and final-newline state."""
    if len(old) + final < 2:
        eol = "\n"  # the old file had no line ending to pass on
    return text_of(new, eol, final, bom, was_empty=not old)


def exact_diff(old: list[str], new: list[str], path: str = "pkg/f.py", context: int = 3) -> str:
    lines = difflib.unified_diff(old, new, f"a/{path}", f"b/{path}", lineterm="", n=context)
    return "\n".join(lines) + "\n"


# --- perturbations a sloppy model makes, all of which the engine must see through ---------------


def drop_numbers(diff: str) -> str:
    return HUNK_HEADER.sub("@@ @@", diff)


def wrong_counts(diff: str) -> str:
    return HUNK_HEADER.sub(lambda m: f"@@ -{m.group(1)},{int(m.group(2) or 1) + 2} +{m.group(3)},1 @@", diff)


def wrong_starts(diff: str) -> str:
    return HUNK_HEADER.sub(lambda m: f"@@ -{int(m.group(1)) + 17},{m.group(2) or 1} +{m.group(3)},{m.group(4) or 1} @@", diff)


def strip_context_trailing_ws(diff: str) -> str:
    out = []
    for line in diff.split("\n"):
        is_old = line.startswith((" ", "-")) and not line.startswith("--- ")
        out.append(line[0] + line[1:].rstrip() if is_old else line)
    return "\n".join(out)


def no_prefixes(diff: str) -> str:
    return diff.replace("--- a/", "--- ", 1).replace("+++ b/", "+++ ", 1)


def no_headers(diff: str) -> str:
    return "\n".join(line for line in diff.split("\n") if not line.startswith(("--- ", "+++ ")))


def fenced(diff: str) -> str:
    return f"Here is the patch you asked for:\n\n```diff\n{diff}```\n\nIt renames a few things.\n"


def crlf(diff: str) -> str:
    return diff.replace("\n", "\r\n")


PERTURBATIONS = [drop_numbers, wrong_counts, wrong_starts, strip_context_trailing_ws, no_prefixes, no_headers, fenced, crlf]


# --- properties ----------------------------------------------------------------------------------


@FAST
@given(st.data())
def test_exact_diff_reproduces_new_file(data: st.DataObject) -> None:
    old = data.draw(files())
    new = data.draw(edits(old))
    assume(new != old)
    eol, final, bom = data.draw(file_shapes())
    result = apply_diff(text_of(old, eol, final, bom), exact_diff(old, new), "pkg/f.py")
    assert result.new_text == expected(old, new, eol, final, bom)
    assert all(h.tier in ("exact-line", "create") for h in result.hunks)


@FAST
@given(st.data())
def test_sloppy_diff_still_reproduces_new_file(data: st.DataObject) -> None:
    old = data.draw(files())
    new = data.draw(edits(old))
    assume(new != old)
    eol, final, bom = data.draw(file_shapes())
    chosen = data.draw(st.lists(st.sampled_from(PERTURBATIONS), max_size=4, unique=True))
    diff = exact_diff(old, new)
    for perturb in sorted(chosen, key=PERTURBATIONS.index):  # fences and CRLF go last
        diff = perturb(diff)
    result = apply_diff(text_of(old, eol, final, bom), diff, "pkg/f.py")
    assert result.new_text == expected(old, new, eol, final, bom)


@FAST
@given(st.data())
def test_dropped_indentation_is_restored(data: st.DataObject) -> None:
    tabs = data.draw(st.booleans())
    unit = "\t" if tabs else "    "
    old = data.draw(files(indent=unit, tabs=tabs))
    assume(old)
    new = data.draw(edits(old, indent=unit, tabs=tabs))
    assume(new != old)
    diff = exact_diff(old, new)
    lines = []
    for line in diff.split("\n"):
        body = line[1:]
        if line[:1] in " +-" and not line.startswith(("--- ", "+++ ")) and body.startswith(unit):
            body = body[len(unit):].replace("\t", "    ")  # dedent one level, tabs turned to spaces
            line = line[0] + body
        lines.append(line)
    result = apply_diff(text_of(old, "\n", True, False), "\n".join(lines), "pkg/f.py")
    assert result.new_text == text_of(new, "\n", True, False)


@FAST
@given(st.data())
def test_diff_applies_to_a_file_that_grew_around_the_change(data: st.DataObject) -> None:
    old = data.draw(files())
    assume(old)
    new = data.draw(edits(old))
    assume(new != old)
    before = [f"header_{i} = {i}" for i in range(data.draw(st.integers(0, 20)))]
    after = [f"footer_{i} = {i}" for i in range(data.draw(st.integers(0, 20)))]
    diff = data.draw(st.sampled_from([lambda d: d, drop_numbers]))(exact_diff(old, new))
    result = apply_diff(text_of(before + old + after, "\n", True, False), diff, "pkg/f.py")
    assert result.new_text == text_of(before + new + after, "\n", True, False)


@FAST
@given(st.data())
def test_never_changes_lines_outside_located_spans(data: st.DataObject) -> None:
    """A diff made for one version, applied to a drifted one: refused, or only its spans change."""
    old = data.draw(files())
    new = data.draw(edits(old))
    drifted = data.draw(edits(old))
    assume(new != old)
    diff = data.draw(st.sampled_from(PERTURBATIONS))(exact_diff(old, new, context=data.draw(st.integers(1, 3))))
    text = text_of(drifted, "\n", True, False)
    try:
        result = apply_diff(text, diff, "pkg/f.py")
    except PatchError:
        return
    hunks = [h for s in parse_diff(diff) for h in s.hunks]
    spans = sorted((p.start, p.end) for _, p in _place_all(tuple(hunks), FileText.parse(text), "pkg/f.py")
                   if p.tier != "already-applied")
    assert result.new_text is not None
    _assert_only_spans_changed(drifted, result.new_text.split("\n")[:-1], spans)


def _assert_only_spans_changed(old: list[str], new: list[str], spans: list[tuple[int, int]]) -> None:
    """new must read old[:s1] + anything + old[e1:s2] + anything + ... + old[ek:]."""
    if not spans:
        assert new == old
        return
    kept = [old[a:b] for a, b in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [len(old)])]
    assert new[: len(kept[0])] == kept[0]
    tail = kept[-1]
    assert new[len(new) - len(tail):] == tail if tail else True
    at = len(kept[0])
    for middle in kept[1:-1]:
        found = next(i for i in range(at, len(new) - len(middle) + 1) if new[i: i + len(middle)] == middle)
        at = found + len(middle)
    assert at <= len(new) - len(tail)


@FAST
@given(st.data())
def test_repeated_lines_never_give_a_wrong_result(data: st.DataObject) -> None:
    """With duplicate blocks the engine may refuse, but whatever it applies is right."""
    old = data.draw(st.lists(st.sampled_from(["a", "b", "", "c"]), max_size=16))
    new = data.draw(st.lists(st.sampled_from(["a", "b", "", "x"]), max_size=16))
    assume(new != old)
    diff = data.draw(st.sampled_from([lambda d: d, drop_numbers, no_headers]))(exact_diff(old, new))
    try:
        result = apply_diff(text_of(old, "\n", True, False), diff, "pkg/f.py")
    except PatchError as error:
        assert "places" in str(error) or "overlaps" in str(error) or "only added lines" in str(error)
        return
    assert result.new_text == text_of(new, "\n", True, False, was_empty=not old)


@FAST
@given(st.data())
def test_parser_agrees_with_unidiff_on_well_formed_diffs(data: st.DataObject) -> None:
    old = data.draw(files())
    new = data.draw(edits(old))
    assume(new != old)
    diff = exact_diff(old, new)
    theirs = [h for f in unidiff.PatchSet(diff) for h in f]
    ours = [h for s in parse_diff(diff) for h in s.hunks]
    assert [(h.source_start, h.target_start) for h in theirs] == [(h.old_start, h.new_start) for h in ours]
    for t, o in zip(theirs, ours):
        assert [(line.line_type, line.value.rstrip("\n")) for line in t] == [(line.kind, line.text) for line in o.lines]
