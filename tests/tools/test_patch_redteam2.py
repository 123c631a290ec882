"""Second red-team pass: inputs on which the engine returned a wrong result (or refused what it must
apply), found after the drift, punctuation and trimming relaxations. One test per behaviour; each
comment says what GNU patch and git apply do with the same input."""

from __future__ import annotations

import pytest

from conftest import patch_refusal
from diffcrew.tools.patch import apply_diff


refused = patch_refusal


BODY = "def f(x):\n    if x:\n        a = 1\n        b = 2\n    return x\n"


@pytest.mark.parametrize("diff", [
    # The if-body flattened to the `if`'s column: three lines vote for no shift, two for +4. The added
    # line is level with `b = 2` and with `return x` alike; it once went after the block, silently.
    "@@ -1,5 +1,6 @@\n def f(x):\n     if x:\n     a = 1\n     b = 2\n+    c = 3\n     return x\n",
    # The mirror image: `return x` drifted into the block; the added line once went into it.
    "@@ -1,5 +1,6 @@\n def f(x):\n     if x:\n         a = 1\n         b = 2\n+        c = 3\n         return x\n",
])
def test_drift_refuses_an_added_line_between_levels_the_hunk_flattened(diff: str) -> None:
    # GNU patch and git apply refuse both (the context differs in whitespace).
    assert refused(BODY, diff).failures[0].reason == "unclear-indent"


def test_a_reindent_matched_only_by_drifting_indentation_is_refused() -> None:
    # The model saw `x = 1` at column 0 (its context flattened) and re-indents it to 4; the file has it at
    # 4 already. The vote (+4) once moved the added line to 8: `return x` then no longer matches any
    # indentation level. git apply refuses (whitespace differs).
    old = "def f():\n    x = 1\n    return x\n"
    diff = "@@ -1,3 +1,3 @@\n def f():\n-x = 1\n+    x = 1\n return x\n"
    assert refused(old, diff).failures[0].reason == "unclear-indent"


def test_a_reindent_under_a_uniform_shift_applies_even_where_its_new_text_is_the_files() -> None:
    # The whole hunk is 4 columns right of the file, and the change dedents a line by 4: its added text
    # happens to be the file's line as it is, but every line agrees on the shift, so the dedent is known.
    old = "### Info\n\n    Using data, tell me more.\n\nStreamline it.\n"
    diff = "@@ -1,5 +1,5 @@\n     ### Info\n \n-        Using data, tell me more.\n+    Using data, tell me more.\n \n     Streamline it.\n"
    assert apply_diff(old, diff, "q.md").new_text == old.replace("    Using", "Using")


def test_a_reindent_whose_removed_lines_match_exactly_still_applies_beside_drift() -> None:
    # One context line gained a space; the removed lines are the file's own: the dedent is what it says.
    old = "```python\n    def f():\n        pass\n```\n"
    diff = "@@ -1,4 +1,4 @@\n  ```python\n-    def f():\n-        pass\n+def f():\n+    pass\n ```\n"
    assert apply_diff(old, diff, "q.md").new_text == "```python\ndef f():\n    pass\n```\n"


def test_an_offset_carried_from_a_hunk_further_down_does_not_outvote_the_stated_line() -> None:
    # Hunk 1 says line 100 and is at 200 (offset +100); hunk 2 says line 11, where one of two copies of
    # `x = compute()` is, and the other copy is at 111 = 11 + 100. The offset of a hunk that lies further
    # down the file says nothing of hunk 2: it once went to 111. git apply puts it at 11; GNU patch
    # refuses ("misordered hunks").
    lines = [f"l{i}" for i in range(1, 301)]
    lines[10] = lines[110] = "    x = compute()"
    old = "\n".join(lines) + "\n"
    diff = "@@ -100 +100 @@\n-l200\n+L200\n@@ -11 +11 @@\n-    x = compute()\n+    x = compute2()\n"
    failure = refused(old, diff).failures[0]
    assert (failure.hunk, failure.reason, failure.lines) == (2, "ambiguous", (11, 111))
    # In file order, the same two hunks are placed: the offset comes from a hunk above.
    diff = "@@ -11 +11 @@\n-    x = compute()\n+    x = compute2()\n@@ -100 +100 @@\n-l200\n+L200\n"
    want = lines.copy()
    want[10], want[199] = "    x = compute2()", "L200"
    assert apply_diff(old, diff, "m.py").new_text == "\n".join(want) + "\n"


IF_BLOCK = "def f():\n    if x:\n        a = 1\n    return x\n"


def test_drift_refuses_an_added_line_beside_a_block_off_by_another_amount() -> None:
    # `if x:` and its body are 2 columns left of the file, `def` and `return` are right: a 2-2 tie that
    # votes no shift. The added line is level with `a = 1` in the hunk; kept against `return x` alone
    # (deeper in both) it once landed at column 6, an indentation level the function does not have.
    # git apply and GNU patch refuse (the context differs in whitespace).
    diff = "@@ -1,4 +1,5 @@\n def f():\n   if x:\n       a = 1\n+      b = 2\n     return x\n"
    assert refused(IF_BLOCK, diff).failures[0].reason == "unclear-indent"


def test_drift_places_an_added_line_that_keeps_its_nesting_against_both_neighbours() -> None:
    # The same hunk with the added line level with `return x`, shallower than `a = 1`: after the block.
    diff = "@@ -1,4 +1,5 @@\n def f():\n   if x:\n       a = 1\n+    b = 2\n     return x\n"
    assert apply_diff(IF_BLOCK, diff, "m.py").new_text == IF_BLOCK.replace("    return", "    b = 2\n    return")


def test_drift_never_leaves_an_added_line_one_column_off_both_neighbours() -> None:
    # Three context lines gained a space, `def` and `return` did not: the vote (-1) moved the added line,
    # written right, a column left: `   d = 4` between two lines at 4, an IndentationError. git apply and
    # GNU patch refuse (the context differs in whitespace).
    old = "def f():\n    a = 1\n    b = 2\n    c = 3\n    return a\n"
    diff = "@@ -1,5 +1,6 @@\n def f():\n      a = 1\n      b = 2\n      c = 3\n+    d = 4\n     return a\n"
    assert refused(old, diff).failures[0].reason == "unclear-indent"
    # Written a space deeper like the lines above it, it moves with them to where they are.
    diff = diff.replace("+    d = 4", "+     d = 4")
    assert apply_diff(old, diff, "m.py").new_text == old.replace("    return", "    d = 4\n    return")


def test_after_a_hunk_applied_already_the_next_counts_in_the_files_new_numbers() -> None:
    # Hunk 1 (5 lines added at line 10) is in the file already; hunk 2 says line 50, which is now at 55,
    # and line 50 is now a copy of it (old line 45). Carrying no offset from the applied hunk once changed
    # the copy. (git apply refuses the whole diff; GNU patch assumes -R for hunk 1 and fails hunk 2.)
    lines = [f"l{i}" for i in range(1, 61)]
    lines[44] = lines[49] = "    x = compute()"
    lines[10:10] = [f"n{i}" for i in range(5)]
    old = "\n".join(lines) + "\n"
    diff = ("@@ -10,2 +10,7 @@\n l10\n" + "".join(f"+n{i}\n" for i in range(5)) + " l11\n"
            "@@ -50 +55 @@\n-    x = compute()\n+    x = compute2()\n")
    result = apply_diff(old, diff, "m.py")
    lines[54] = "    x = compute2()"
    assert result.new_text == "\n".join(lines) + "\n"
    assert [(h.tier, h.line) for h in result.hunks] == [("already-applied", 10), ("exact", 55)]


def test_a_diff_sent_again_whole_is_not_applied_to_a_copy_of_its_second_hunk() -> None:
    # Both hunks are in the file already; hunk 2's removed line has a copy further down (line 75). Its
    # new side is where hunk 1's offset (5 added lines) puts it: applied already, or meant for the copy?
    # (git apply and GNU patch refuse: hunk 1's old side is not there.)
    lines = [f"l{i}" for i in range(1, 81)]
    lines[69] = "    x = compute()"
    lines[49] = "    x = compute2()"
    lines[10:10] = [f"n{i}" for i in range(5)]
    old = "\n".join(lines) + "\n"
    diff = ("@@ -10,2 +10,7 @@\n l10\n" + "".join(f"+n{i}\n" for i in range(5)) + " l11\n"
            "@@ -50 +55 @@\n-    x = compute()\n+    x = compute2()\n")
    failure = refused(old, diff).failures[0]
    assert (failure.hunk, failure.reason, failure.lines) == (2, "ambiguous", (55, 75))


@pytest.mark.parametrize("space", ["\u00a0", "\u2009"])
def test_a_no_break_space_turned_in_the_context_is_not_written_into_added_code(space: str) -> None:
    # The context has `x<NBSP>= 1` for the file's `x = 1`, and the added line has the same odd space:
    # the whitespace tier matched it as a space, and `y<NBSP>= 2` went into Python code (a SyntaxError).
    # GNU patch does the same (fuzz); git apply refuses.
    old = "def f():\n    x = 1\n    return x\n"
    diff = f"@@ -1,3 +1,4 @@\n def f():\n     x{space}= 1\n+    y{space}= 2\n     return x\n"
    assert refused(old, diff).failures[0].reason == "unclear-punctuation"
    # Without the odd space in the added line, the hunk applies.
    assert apply_diff(old, diff.replace(f"y{space}", "y "), "m.py").new_text == old.replace(
        "    return", "    y = 2\n    return")


def test_a_minus_u0_reindent_already_in_the_file_is_not_shifted_again() -> None:
    # `-  x = 1` / `+    x = 1` with no context, for a file that has `    x = 1` already: the only
    # "uniform" shift (+2) is the removed line's own, and it once moved the added line to 6 columns.
    # git apply and GNU patch refuse or leave the line alone.
    old = "if b:\n    x = 1\n"
    assert refused(old, "@@ @@\n-  x = 1\n+    x = 1\n").failures[0].reason == "unclear-indent"
