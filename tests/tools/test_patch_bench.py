"""Regression tests for engine bugs found by bench/apply.py (issue 3): one test per bug, minimal files."""

from __future__ import annotations

import pytest

from conftest import patch_refusal
from diffcrew.tools.patch import apply_diff


rejected = patch_refusal


# --- already-applied must rest on added text ----------------------------------------------------


def test_removal_at_end_whose_removed_line_is_absent_is_not_already_applied() -> None:
    # What a removal leaves is in the file whether or not it was done: no evidence. (Was: applied as a no-op.)
    rejected("a = 1\nb = 2\nc = 3\n", "@@ -2,3 +2,1 @@\n b = 2\n-c = 30\n-d = 4\n")


def test_removal_at_start_whose_removed_line_is_absent_is_not_already_applied() -> None:
    rejected("# header\nimport os\nimport sys\n", "@@ -1,3 +1,2 @@\n-# header, edited\n import os\n import sys\n")


def test_removal_whose_new_side_repeats_nearby_is_not_already_applied() -> None:
    # The new side (keep, tail) occurs at lines 3-4, where the removed block ends like its context.
    old = "keep\nbody()\nkeep\ntail\n"
    rejected(old, "@@ -1,4 +1,2 @@\n keep\n-body(1)\n-keep\n tail\n")


def test_removal_really_already_done_is_refused_not_guessed() -> None:
    # The price of the rule: a pure removal that was done already is refused (with repair text), never applied.
    error = rejected("a\nc\n", "@@ -1,3 +1,2 @@\n a\n-b\n c\n")
    assert "hunk 1" in str(error)


def test_whitespace_only_change_is_not_already_applied_at_a_loose_tier() -> None:
    # The hunk strips trailing spaces; the file still has them, so the added line is not there byte for byte.
    old = "x = 1   \ny = 2\n"
    rejected(old, "@@ -1,2 +1,2 @@\n-x = 1    # edited\n+x = 1\n y = 2\n")


def test_added_blank_line_missing_from_file_is_not_already_applied() -> None:
    old = "def f():\n    return 1\ndef g():\n    return 2\n"
    rejected(old, "@@ -1,4 +1,5 @@\n def f():\n-    return 0\n+    return 1\n+\n def g():\n")


def test_already_applied_needs_the_final_newline_state_the_hunk_sets() -> None:
    diff = "@@ -1,2 +1,2 @@\n a\n-b = 0\n\\ No newline at end of file\n+b\n"
    rejected("a\nb", diff)  # the diff adds the final newline; the file still lacks it (was: no-op)
    result = apply_diff("a\nb\n", diff, "m.py")
    assert result.new_text == "a\nb\n" and result.hunks[0].tier == "already-applied"


def test_already_applied_that_removes_the_final_newline() -> None:
    diff = "@@ -1,2 +1,2 @@\n a\n-b = 0\n+b\n\\ No newline at end of file\n"
    rejected("a\nb\n", diff)
    assert apply_diff("a\nb", diff, "m.py").hunks[0].tier == "already-applied"


def test_already_applied_still_works_for_real_additions() -> None:
    old = "def f():\n    return 2\n"
    result = apply_diff(old, "@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n", "m.py")
    assert result.new_text == old and result.hunks[0].tier == "already-applied"


# --- re-indenting added lines ---------------------------------------------------------------------


def test_whitespace_only_added_line_is_kept_verbatim_when_the_hunk_is_reindented() -> None:
    old = "class A:\n    def f(self):\n        x = 1\n        return x\n"
    hunk = ["   def f(self):", "       x = 1", "+        ", "       return x"]  # 2 spaces short, but the blank
    diff = "@@ -2,3 +2,4 @@\n" + "\n".join(hunk) + "\n"
    assert apply_diff(old, diff, "m.py").new_text == old.replace("x = 1\n", "x = 1\n        \n")


# --- the bench's own generators (bench/apply_cases.py, bench/apply_files.py) ----------------------
# A category's definition can be wrong; these hold the generators to what the categories claim.

import difflib  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import apply_cases as cases  # noqa: E402
import apply_files as files  # noqa: E402
from apply_corpus import Triple, file_lines, parse_git_diff, starts  # noqa: E402


def triple(old: str, new: str, path: str = "m.py") -> Triple:
    diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}", n=3))
    headers, hunks = parse_git_diff(diff)
    return Triple("t", "c0ffee", path, old, new, headers, hunks)


def block(n: int, tag: str) -> list[str]:
    return [f"def {tag}_{i}(value, count=1):" if i % 3 == 0 else f"    total_{tag} = value + {i}" for i in range(n)]


SAME = ["    if value is None:", "        return None", "    result = compute(value)", "    log(result)"]


def test_determined_unique_floor_and_stated_line() -> None:
    lines = block(20, "a") + SAME + block(20, "b") + SAME + block(20, "c")
    first, second = 21, 45
    assert starts(lines, SAME) == [first, second]
    assert not cases.determined(lines, [(SAME, None)], [first])  # '@@ @@', two copies
    assert cases.determined(lines, [(SAME, second + 3)], [second])  # stated line 3 off the true copy
    assert not cases.determined(lines, [(SAME, second + 3)], [first])  # ... which picks the other copy
    assert not cases.determined(lines, [(SAME, 70)], [second])  # > 5 from every copy
    assert cases.determined(lines, [(SAME, second)], [second])  # exactly at a copy
    # Hunk order alone decides nothing (models send hunks out of order): a numberless hunk after
    # one placed past the first copy is still undetermined.
    head = lines[25:28]
    assert not cases.determined(lines, [(head, None), (SAME, None)], [26, second])
    # A stated line 3 off one copy and within 10 of the other tells them apart no better.
    close = block(20, "a") + SAME + block(8, "b") + SAME + block(20, "c")
    assert not cases.determined(close, [(SAME, 21 + len(SAME) + 8 - 3)], [21 + len(SAME) + 8])  # 9 from copy 1
    # A carried offset: hunk 1 moved by +10, so the stale line of hunk 2 (at copy 1) means copy 2 ... only
    # when it lands there: 24 + 10 = 34 is > 5 from both.
    assert not cases.determined(lines, [(lines[0:3], -9), (SAME, first)], [1, second])
    assert cases.determined(lines, [(lines[0:3], 1 - (second - first)), (SAME, first)], [1, second])


def test_fuzzy_determinacy_ignores_whitespace() -> None:
    lines = ["a = 1", "  b = 2", "c = 3"]
    assert not cases.determined(lines, [(["a = 1", "b = 2"], 1)], [1])
    assert cases.determined(lines, [(["a = 1", "b = 2 "], 1)], [1], fuzzy=True)


def sample_triple() -> Triple:
    old = "\n".join(block(30, "x") + SAME + block(30, "y") + ['    print("done - it\'s ok...")'] + block(10, "z")) + "\n"
    lines = old.split("\n")
    lines[5] = "    total_x = value + 55"
    lines[50] = lines[50] + "  # changed"
    lines[66:66] = ["    extra = 1"]
    return triple(old, "\n".join(lines))


@pytest.mark.parametrize("category", ["renamed-removed", "number-removed", "renamed-adjacent"])
def test_guesses_are_absent_from_the_file_even_ignoring_whitespace(category: str) -> None:
    t = sample_triple()
    keys = {" ".join(x.split()) for x in file_lines(t.old)}
    made = 0
    for seed in range(20):
        hunks = [h.__class__(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body)) for h in t.hunks]
        if not cases.guess(t, hunks, random.Random(seed), category):
            continue
        made += 1
        changed = [(a, b) for h0, h in zip(t.hunks, hunks) for a, b in zip(h0.body, h.body) if a != b]
        assert len(changed) == 1
        before, after = changed[0]
        assert before[0] == after[0] and before[0] in (" ", "-")
        assert " ".join(after[1:].split()) not in keys
        if category != "renamed-adjacent":
            assert after[0] == "-"
    assert made


def test_adjacent_insertion_mutates_the_line_next_to_a_pure_insertion() -> None:
    old = "\n".join(block(12, "p")) + "\n"
    lines = old.split("\n")
    lines[6:6] = ["    inserted = True"]
    t = triple(old, "\n".join(lines))
    hunks = [h.__class__(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body)) for h in t.hunks]
    assert cases.guess(t, hunks, random.Random(1), "adjacent-insertion")
    body = hunks[0].body
    k = next(i for i, (a, b) in enumerate(zip(t.hunks[0].body, body)) if a != b)
    assert body[k][0] == " " and "+" in (body[k - 1][:1], body[k + 1][:1])


def test_far_context_is_two_lines_from_a_change_and_leaves_a_determined_hunk() -> None:
    t = sample_triple()
    hunks = [h.__class__(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body)) for h in t.hunks]
    assert cases.far_context(t, hunks, random.Random(3))
    for h0, h in zip(t.hunks, hunks):
        for k, (a, b) in enumerate(zip(h0.body, h.body)):
            if a != b:
                changed = [i for i, x in enumerate(h.body) if x[:1] in "+-" and x]
                assert min(abs(k - i) for i in changed) >= 2


def test_repeated_near_line_and_offset_are_determined_at_the_true_place() -> None:
    t = sample_triple()
    for seed in range(5):
        made = cases.repeated_near_line(t, random.Random(seed))
        assert made is not None
        diff, old, new = made
        headers, hunks = parse_git_diff(diff)
        lines = file_lines(old)
        assert any(len(starts(lines, h.old_side())) == 2 for h in hunks)
        assert cases.determined(lines, cases.hunk_plan(hunks), [h0.old_start for h0 in t.hunks])
    made = None
    for seed in range(30):
        made = cases.repeated_offset(t, random.Random(seed))
        if made:
            break
    assert made is not None
    diff, old, new = made
    headers, hunks = parse_git_diff(diff)
    lines = file_lines(old)
    k = next(i for i, x in enumerate(lines) if not x.startswith("pad line"))
    assert len(starts(lines, hunks[0].old_side())) == 1
    later = [h for h in hunks[1:] if h.old_start in starts(lines, h.old_side())]
    assert later and all(h.old_start + k in starts(lines, h.old_side()) for h in later)  # stale line: the copy
    assert cases.determined(lines, cases.hunk_plan(hunks), [h.old_start + k for h in hunks])


def test_drift_and_punctuation_leave_added_lines_alone() -> None:
    t = sample_triple()
    for make in (cases.drift_per_line, cases.unicode_punct):
        hunks = [h.__class__(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body)) for h in t.hunks]
        assert make(t, hunks, random.Random(2))
        assert [b for h in hunks for b in h.body if b[:1] == "+"] == [b for h in t.hunks for b in h.body if b[:1] == "+"]
    made = cases.tab_space_mixed(t, random.Random(1))
    assert made and "\t" in made[1] and "\n     " in made[0] and "\n \t" in made[0]


def test_latin1_variant_is_latin1_bytes() -> None:
    t = triple("name = 'Jos\u00e9'\nx = 1\n", "name = 'Jos\u00e9'\nx = 2\n")
    diff, old, new = cases.latin1(t, random.Random(1))
    assert old.encode("utf-8", "surrogateescape") == "name = 'Jos\u00e9'\nx = 1\n".encode("latin-1")
    assert "\udce9" in diff and "\udce9" in new


def git_in(root: Path, *args: str) -> str:
    env = dict(os.environ, **files.ENV, HOME=str(root))
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env,
                          text=True).stdout.strip()


def test_file_level_comparison_sees_content_and_mode(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git_in(repo, "init", "-q")
    (repo / "run.sh").write_text("echo 1\n")
    git_in(repo, "add", ".")
    git_in(repo, "commit", "-qm", "one")
    base = git_in(repo, "rev-parse", "HEAD")
    (repo / "run.sh").write_text("echo 2\n")
    os.chmod(repo / "run.sh", 0o755)
    git_in(repo, "add", ".")
    git_in(repo, "commit", "-qm", "two")
    target = git_in(repo, "rev-parse", "HEAD")
    co = files.Checkout(str(repo))
    try:
        co.reset(base)
        here = co.root / "run.sh"
        here.write_text("echo 2\n")
        assert not co.matches(base, target)  # the executable bit is missing: wrong
        os.chmod(here, 0o755)
        assert co.matches(base, target)
        here.write_text("echo 3\n")
        assert not co.matches(base, target)
        (co.root / "stray.txt").write_text("x\n")  # a file the target does not have
        here.write_text("echo 2\n")
        assert not co.matches(base, target)
        co.reset(base)
        assert here.read_text() == "echo 1\n" and not (co.root / "stray.txt").exists()
        synthesized = co.commit_with(base, {"run.sh": ("100755", b"echo 2\n")}, "same as two")
        assert git_in(co.root, "rev-parse", f"{synthesized}^{{tree}}") == git_in(repo, "rev-parse", f"{target}^{{tree}}")
    finally:
        co.close()


def two_commit_repo(root: Path) -> tuple[str, str]:
    """src/a/util.py and src/b/util.py (the same base name), lib/only.py; commit 2 edits a/util.py and only.py."""
    root.mkdir()
    git_in(root, "init", "-q")
    body = "\n".join(f"value_{i} = {i}" for i in range(30)) + "\n"
    for name in ("src/a/util.py", "src/b/util.py", "lib/only.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n" + body)
    git_in(root, "add", ".")
    git_in(root, "commit", "-qm", "one")
    base = git_in(root, "rev-parse", "HEAD")
    (root / "src/a/util.py").write_text("# src/a/util.py\n" + body.replace("value_15 = 15", "value_15 = 150"))
    (root / "lib/only.py").write_text("# lib/only.py\n" + body.replace("value_3 = 3", "value_3 = 30"))
    git_in(root, "add", ".")
    git_in(root, "commit", "-qm", "two")
    return base, git_in(root, "rev-parse", "HEAD")


def test_bare_names_and_headerless_hunks_are_classified_by_what_the_tree_allows(tmp_path: Path) -> None:
    base, child = two_commit_repo(tmp_path / "r")
    co = files.Checkout(str(tmp_path / "r"))
    try:
        paths = files.text_modifications(co, base, child)
        assert paths == ["lib/only.py", "src/a/util.py"]
        made = {v.category: v for v in files.header_variants(co, "r", base, child, paths, random.Random(1))}
        assert "bare-name-ambiguous" in made and not made["bare-name-ambiguous"].recoverable  # util.py twice
        assert "--- /app/src/a/util.py" in made["abs-path"].text
        # 'value_15 = 15' with its context is in both util.py files: the hunks fit two files.
        assert not files.no_header_determined(co, base, "src/a/util.py", "@@ -14,7 +14,7 @@\n" + "".join(
            f" value_{i} = {i}\n" for i in range(12, 15)) + "-value_15 = 15\n+value_15 = 150\n" + "".join(
            f" value_{i} = {i}\n" for i in range(16, 19)))
        assert files.no_header_determined(co, base, "lib/only.py", "@@ -1,7 +1,7 @@\n # lib/only.py\n" + "".join(
            f" value_{i} = {i}\n" for i in range(0, 3)) + "-value_3 = 3\n+value_3 = 30\n" + "".join(
            f" value_{i} = {i}\n" for i in range(4, 6)))
        fv = made["abs-path"]

        def crash(root, text):
            raise ValueError("boom")
        assert files.run_file_variant(co, fv, "ours", crash, None, (RuntimeError,))[0] == "refused"
        wrong = files.FileVariant("r", "format-patch", True, base, child, "", "x")

        def half(root, text):  # applies only one of the two files
            (root / "lib/only.py").write_text((root / "lib/only.py").read_text().replace("value_3 = 3", "value_3 = 30"))
            return []
        assert files.run_file_variant(co, wrong, "ours", half, lambda root, changes: None, (RuntimeError,))[0] == "wrong"
    finally:
        co.close()
