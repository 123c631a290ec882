"""Patch-application benchmark on real changes (issue 3): our engine against git apply and GNU patch.

Not a test. Builds per-file (old, new, diff) triples from the history of local git repositories
(the last --commits non-merge commits; modified UTF-8 text files under 3,000 lines; diffs from
`git diff -U3`, so they are exact), perturbs each diff with every fault a model makes, at seeded
random, and adds must-refuse cases. Every tool gets the same perturbed text and the path:

  ours       diffcrew.tools.patch.apply_diff
  git        git apply
  git-loose  git apply --recount -C1 --ignore-whitespace
  patch      GNU patch -p1 --batch (the target file named on its command line); not run on a diff
             whose @@ lines are not unified hunk headers ('@@ @@'), which it would hand to ed as an
             ed script: those count as refused (they would not be applied as a unified diff)

Result of one tool on one variant:
  exact    applied, and the file is byte-for-byte the true new file
  refused  non-zero exit / PatchError (a partial application with an error counts here too)
  wrong    applied (exit 0), but the file is not the true new file;
           on a must-refuse variant any application at all counts as wrong

Recoverable categories change only the diff's framing and its context/removed lines (never the
text of added lines, except a uniform indent shift or tab-to-space change of the whole hunk, which
an engine can undo), so the true new file is determinable from the variant. Categories that drop
or falsify line numbers are recoverable only when the diff determines every hunk's place, by the
policy bench/apply_cases.determined states (independently of the engine): for each hunk in order,
the candidates are the places its old side occurs; the one candidate wins; else the one at the
stated line moved by the carried offset (where the previous numbered hunk landed less its stated
line); else the one within 5 lines of that line when no other is within 10 (among several within 5,
the one at/after the end of the previous hunk); hunk order alone decides nothing, since models send
hunks out of order. Undetermined, or determined elsewhere than the
true place, the variant is must-refuse (repeated-real / repeated-wrong-line / repeated-misled).

Issue-14 recoverable categories (bench/apply_cases.py):
  repeated-near-line  a hunk whose old side occurs twice (really, or by a copy appended to the
                   file), its stated line 1-5 off the true copy and > 10 from the other
  repeated-offset  K (5-30) lines put at the top of old and new; a later hunk's old side written
                   over unchanged lines so it starts exactly at that hunk's stale stated line, the
                   true block at stated+K: only hunk 1's carried offset finds it
  far-context      an outer context line 2+ lines from any change, and not the nearest non-blank
                   one (blank lines protect nothing), contradicts the file (a renamed name or
                   changed number); the hunk trimmed up to it is still determined
  drift-per-line   in one hunk: one context line +/-1 space of indent, another trailing spaces, a
                   blank context line written empty; determined ignoring whitespace
  tab-space-mixed  a tab-indented file (a 4-space one made so when the repository has none): some
                   context/removed lines' tabs as 4 spaces, others not; added lines untouched
  unicode-punct    up to two context/removed lines with “ ” ‘ ’ – … for ASCII quotes, ' - ', '...'
  latin1           the triple re-encoded as Latin-1 (non-ASCII text), else a Latin-1 byte (e9) in an
                   added line; text is surrogateescape-decoded bytes, compared as bytes
  cr-no-eol        the file ends without a newline in a line ending with CR, reached as context
  crlf-region      a mixed-ending file: one hunk's lines (and 2 around) CRLF, the rest LF
  epoch-delete     the whole file removed as diff -u writes it (+++ dated 1970-01-01): deleted
Issue-14 must-refuse categories (the mutated line is not in the file even ignoring whitespace):
  renamed-removed  a name in a removed line changed to a similar one (plural, '_', case)
  number-removed   a number in a removed line changed
  renamed-adjacent a context line right next to a change with a name or number changed
  adjacent-insertion  a pure-insertion hunk whose context line right before/after the added block
                   has a name or number changed
File-level categories (bench/apply_files.py; --file-commits seeded commits per repository, on a
private clone; ours is applyfiles.plan_changes + write_changes, compared by content and mode):
  abs-path, bare-name (-ambiguous: the base name is not unique among tracked files: must-refuse),
  no-header-multi (-ambiguous: the hunks fit another tracked file, or are undetermined: must-refuse),
  diff-u-two-names, format-patch, format-patch-series, rename, copy, mode, new-file-exec,
  binary-literal, binary-delta. See that module.

Must-refuse categories: the true result cannot be known from the diff.
  absent-removed   a removed line changed to a line the file does not have
  absent-inner     an unchanged line between two changes replaced by one the file lacks (no
                   trimming of outer context can drop it)
  repeated-real    a real hunk whose old side occurs twice or more, sent as '@@ @@' or '@@ ... @@'
                   (no line number to break the tie)
  repeated-wrong-line  the same, with a wrong line number > 5 lines from every copy
  repeated-misled  the same, with a wrong line number within 5 lines of a wrong copy
  repeated-dup     the hunk's old side duplicated elsewhere in the file, sent as '@@ @@'

    python bench/apply.py REPO_PATH [REPO_PATH ...] [--commits 300] [--seed 1] [--max-variants N]
                          [--tools ours,git,git-loose,patch] [--jobs 2] [--dump DIR]
                          [--files-per-commit 20] [--file-commits 20] [--list-commits]

REPO_PATH may be a work tree or a bare git directory. Seeded and deterministic (apart from times).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from diffcrew.tools.errors import PatchError  # noqa: E402
from diffcrew.tools.patch import apply_diff  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside this file
from apply_corpus import (  # noqa: E402
    HUNK_RE, Hunk, Triple, Variant, copy_hunks, file_lines, loose_occurrences, occurrences, render, starts,
    triples,
)
from apply_files import (  # noqa: E402
    FILE_MUST_REFUSE, FILE_RECOVERABLE, Checkout, FileVariant, file_variants, run_file_variant,
)
from apply_cases import (  # noqa: E402
    cr_no_eol, crlf_region, determined, drift_per_line, epoch_delete, far_context, guess, hunk_plan, latin1,
    repeated_kind, repeated_near_line, repeated_offset, tab_space_mixed, true_starts_of, unicode_punct,
)

RECOVERABLE = (
    "clean", "wrong-numbers", "no-numbers", "dots-header", "no-counts", "wrong-counts",
    "trailing-ws-dropped", "tabs-to-spaces", "blank-no-space", "no-headers", "fenced", "prose",
    "crlf-file", "out-of-order", "misindented", "mixed",
    "repeated-near-line", "repeated-offset", "far-context", "drift-per-line", "tab-space-mixed", "unicode-punct",
    "latin1", "cr-no-eol", "crlf-region", "epoch-delete",
)
GUESSES = ("renamed-removed", "number-removed", "renamed-adjacent", "adjacent-insertion")
MUST_REFUSE = ("absent-removed", "absent-inner", *GUESSES, "repeated-real", "repeated-wrong-line",
               "repeated-misled", "repeated-dup")
FILE_GROUPS = (("recoverable", FILE_RECOVERABLE), ("must-refuse", FILE_MUST_REFUSE))
CLASSES = {  # the failure classes of issue 14, for the legend
    "guesses": (*GUESSES, "absent-removed", "absent-inner", "far-context"),
    "repeated": ("repeated-near-line", "repeated-offset", "repeated-real", "repeated-wrong-line", "repeated-misled",
                 "repeated-dup"),
    "drift": ("trailing-ws-dropped", "tabs-to-spaces", "blank-no-space", "misindented", "drift-per-line",
              "tab-space-mixed", "unicode-punct"),
    "bytes": ("crlf-file", "latin1", "cr-no-eol", "crlf-region", "epoch-delete", "binary-literal", "binary-delta"),
    "modes": ("mode", "new-file-exec"),
    "headers": ("wrong-numbers", "no-numbers", "dots-header", "no-counts", "wrong-counts", "no-headers", "fenced",
                "prose", "out-of-order", "abs-path", "bare-name", "bare-name-ambiguous", "no-header-multi",
                "no-header-ambiguous", "diff-u-two-names", "format-patch", "format-patch-series", "rename", "copy"),
}
NUMBERLESS = ("wrong-numbers", "no-numbers", "dots-header")  # the stated line is no help
TOOLS = ("ours", "git", "git-loose", "patch")


# --- perturbations ---------------------------------------------------------------------------------


def absent(text: str, rng: random.Random, base: str) -> str:
    while True:
        line = f"{base} # edit-{rng.randrange(10**9)}" if base.strip() else f"missing_{rng.randrange(10**9)}()"
        if line not in text:
            return line


def variants_of(t: Triple, seed: int) -> list[Variant]:
    out: list[Variant] = []
    old_lines = file_lines(t.old)

    def rng_for(category: str) -> random.Random:
        digest = hashlib.sha256(f"{seed}|{t.repo}|{t.commit}|{t.path}|{category}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def add(category: str, diff: str, old: str | None = None, expected: str | None = None,
            recoverable: bool | None = None, header_of=None) -> None:
        if recoverable is None:
            recoverable = category in RECOVERABLE
            if category in NUMBERLESS and not determined(
                    old_lines, hunk_plan(t.hunks, header_of), true_starts_of(old_lines, t.hunks)):
                recoverable, category = False, repeated_kind(old_lines, t.hunks, header_of)
        out.append(Variant(t.repo, category, recoverable, t.path, t.old if old is None else old, diff,
                           t.new if expected is None else expected, f"{t.commit}:{t.path}"))

    exact = render(t.headers, t.hunks)
    add("clean", exact)

    rng = rng_for("wrong-numbers")

    def wrong(h: Hunk) -> str:
        copies = set(starts(old_lines, h.old_side()))
        while True:  # a wrong line: at none of the places the old side is (else it is no fault)
            off = rng.choice([-1, 1]) * rng.randint(1, 40)
            if max(1, h.old_start + off) not in copies:
                break
        return f"@@ -{max(1, h.old_start + off)},{h.old_count} +{max(1, h.new_start + off)},{h.new_count} @@"
    stated = {id(h): wrong(h) for h in t.hunks}
    add("wrong-numbers", render(t.headers, t.hunks, lambda h: stated[id(h)]), header_of=lambda h: stated[id(h)])
    add("no-numbers", render(t.headers, t.hunks, lambda h: "@@ @@"), header_of=lambda h: "@@ @@")
    add("dots-header", render(t.headers, t.hunks, lambda h: "@@ ... @@"), header_of=lambda h: "@@ ... @@")
    made = repeated_near_line(t, rng_for("repeated-near-line"))
    if made:
        add("repeated-near-line", made[0], old=made[1], expected=made[2], recoverable=True)
    made = repeated_offset(t, rng_for("repeated-offset"))
    if made:
        add("repeated-offset", made[0], old=made[1], expected=made[2], recoverable=True)
    add("no-counts", render(t.headers, t.hunks, lambda h: f"@@ -{h.old_start} +{h.new_start} @@"))

    rng = rng_for("wrong-counts")

    def counts(h: Hunk) -> str:
        a = max(0, h.old_count + rng.choice([-3, -2, -1, 1, 2, 5]))
        b = max(0, h.new_count + rng.choice([-3, -2, -1, 1, 2, 5]))
        return f"@@ -{h.old_start},{a} +{h.new_start},{b} @@"
    add("wrong-counts", render(t.headers, t.hunks, counts))

    def body_fault(category: str, change) -> None:
        hunks = copy_hunks(t)
        touched = False
        for h in hunks:
            new_body = [change(b) for b in h.body]
            touched |= new_body != h.body
            h.body = new_body
        if touched:
            add(category, render(t.headers, hunks))

    body_fault("trailing-ws-dropped", lambda b: b[0] + b[1:].rstrip() if b[:1] in (" ", "-") else b)
    body_fault("blank-no-space", lambda b: "" if b == " " else b)

    # Tabs to spaces over the whole hunk (what a model does): the engine re-indents added lines.
    if "\t" in t.old and all(_tab_only(b[1:]) for h in t.hunks for b in h.body if b[:1] in (" ", "-", "+")):
        hunks = copy_hunks(t)
        if detab(hunks):
            add("tabs-to-spaces", render(t.headers, hunks))

    stripped_headers = [h for h in t.headers if not h.startswith(("diff --git", "index ", "--- ", "+++ "))]
    add("no-headers", render(stripped_headers, t.hunks))
    add("fenced", "```diff\n" + exact + "```\n")
    add("prose", f"Here is the change to {t.path}, as a unified diff:\n\n" + exact
        + "\nThis keeps everything else in the file as it was.\n")
    if "\r" not in t.old and "\r" not in t.new:
        add("crlf-file", exact, old=t.old.replace("\n", "\r\n"), expected=t.new.replace("\n", "\r\n"))
    if len(t.hunks) > 1:
        add("out-of-order", render(t.headers, list(reversed(t.hunks))))

    rng = rng_for("misindented")
    hunks = copy_hunks(t)
    choices = [h for h in hunks if _space_indented(h)]
    if choices:
        h = rng.choice(choices)
        solid = [b[1:] for b in h.body if b[:1] in (" ", "-", "+") and b[1:].strip()]
        least = min(len(s) - len(s.lstrip(" ")) for s in solid)
        if least >= 4 and rng.random() < 0.5:
            h.body = [b[0] + b[5:] if b[:1] in (" ", "-", "+") and b[1:].strip() else b for b in h.body]
        else:
            pad = rng.choice([2, 4])
            h.body = [b[0] + " " * pad + b[1:] if b[:1] in (" ", "-", "+") and b[1:].strip() else b
                      for b in h.body]
        add("misindented", render(t.headers, hunks))

    rng = rng_for("mixed")
    loose_unique = all(loose_occurrences(old_lines, h.old_side()) == 1 for h in t.hunks)
    diff, old, expected, _numberless = mixed(t, rng, loose_unique)
    add("mixed", diff, old=old, expected=expected, recoverable=True)

    for category, make in (("far-context", far_context), ("drift-per-line", drift_per_line),
                           ("unicode-punct", unicode_punct)):
        hunks = copy_hunks(t)
        if make(t, hunks, rng_for(category)):
            add(category, render(t.headers, hunks), recoverable=True)
    for category, made in (("tab-space-mixed", tab_space_mixed(t, rng_for("tab-space-mixed"))),
                           ("latin1", latin1(t, rng_for("latin1"))), ("cr-no-eol", cr_no_eol(t)),
                           ("crlf-region", crlf_region(t, rng_for("crlf-region")))):
        if made:
            add(category, made[0], old=made[1], expected=made[2], recoverable=True)
    out.append(Variant(t.repo, "epoch-delete", True, t.path, t.old, epoch_delete(t), None, f"{t.commit}:{t.path}"))

    # --- must-refuse ---
    for category in GUESSES:
        hunks = copy_hunks(t)
        if guess(t, hunks, rng_for(category), category):
            add(category, render(t.headers, hunks), recoverable=False)

    rng = rng_for("absent-removed")
    hunks = copy_hunks(t)
    spots = [(h, k) for h in hunks for k, b in enumerate(h.body) if b[:1] == "-"]
    if spots:
        h, k = rng.choice(spots)
        h.body[k] = "-" + absent(t.old, rng, h.body[k][1:])
        add("absent-removed", render(t.headers, hunks), recoverable=False)

    rng = rng_for("absent-inner")
    hunks = copy_hunks(t)
    spots = []
    for h in hunks:
        changed = [k for k, b in enumerate(h.body) if b[:1] in ("+", "-")]
        spots += [(h, k) for k, b in enumerate(h.body)
                  if b[:1] == " " and changed and changed[0] < k < changed[-1]]
    if spots:
        h, k = rng.choice(spots)
        h.body[k] = " " + absent(t.old, rng, h.body[k][1:])
        add("absent-inner", render(t.headers, hunks), recoverable=False)

    rng = rng_for("repeated-dup")
    h = rng.choice(t.hunks)
    side = h.old_side()
    if any(s.strip() for s in side) and "\r" not in t.old:
        # A copy of the hunk's old side after the last line, or before the first, far from the hunk.
        eol = "\n"
        block = eol.join(side) + eol
        if h.old_start > len(old_lines) // 2:
            old = block + "\n" + t.old
        else:
            old = t.old + ("" if t.old.endswith("\n") else "\n") + "\n" + block
        single = Hunk(h.old_start, h.old_count, h.new_start, h.new_count, "", list(h.body), h.eol)
        if occurrences(file_lines(old), side, 3) >= 2:
            add("repeated-dup", render(t.headers, [single], lambda _: "@@ @@"), old=old, expected=t.new,
                recoverable=False)
    return out



def mixed(t: Triple, rng: random.Random, loose_unique: bool) -> tuple[str, str, str, bool]:
    """Three to six faults at once, as a sloppy model makes them: (diff, old, expected, numbers lost)."""
    hunks = copy_hunks(t)
    pool = ["numbers", "trailing-ws", "blank", "headers", "wrapper", "order", "indent", "crlf", "tabs"]
    faults = set(rng.sample(pool, rng.randint(3, 6)))
    numberless = False
    header_of = None
    if "numbers" in faults:
        how = rng.choice(["wrong", "none", "dots", "no-counts", "wrong-counts"] if loose_unique
                         else ["no-counts", "wrong-counts"])
        numberless = how in ("wrong", "none", "dots")
        offsets = {id(h): rng.choice([-1, 1]) * rng.randint(1, 40) for h in hunks}
        header_of = {
            "wrong": lambda h: f"@@ -{max(1, h.old_start + offsets[id(h)])},{h.old_count} "
                               f"+{max(1, h.new_start + offsets[id(h)])},{h.new_count} @@",
            "none": lambda h: "@@ @@",
            "dots": lambda h: "@@ ... @@",
            "no-counts": lambda h: f"@@ -{h.old_start} +{h.new_start} @@",
            "wrong-counts": lambda h: f"@@ -{h.old_start},{h.old_count + offsets[id(h)] % 5} "
                                      f"+{h.new_start},{max(0, h.new_count - offsets[id(h)] % 3)} @@",
        }[how]
    if "tabs" in faults and "\t" in t.old and all(
            _tab_only(b[1:]) for h in hunks for b in h.body if b[:1] in (" ", "-", "+")):
        detab(hunks)
    if "indent" in faults:
        choices = [h for h in hunks if _space_indented(h)]
        if choices:
            h = rng.choice(choices)
            h.body = [b[0] + "  " + b[1:] if b[:1] in (" ", "-", "+") and b[1:].strip() else b for b in h.body]
    if "trailing-ws" in faults:
        for h in hunks:
            h.body = [b[0] + b[1:].rstrip() if b[:1] in (" ", "-") else b for b in h.body]
    if "blank" in faults:
        for h in hunks:
            h.body = ["" if b == " " else b for b in h.body]
    if "order" in faults:
        rng.shuffle(hunks)
    headers = t.headers
    if "headers" in faults:
        headers = [h for h in headers if not h.startswith(("diff --git", "index ", "--- ", "+++ "))]
    diff = render(headers, hunks, header_of)
    if "wrapper" in faults:
        fence = rng.choice([True, False])
        if fence:
            diff = "```diff\n" + diff + "```\n"
        if not fence or rng.random() < 0.5:
            diff = f"Here is the fix for {t.path}:\n\n" + diff + "\nLet me know if anything else needs changing.\n"
    old, expected = t.old, t.new
    if "crlf" in faults and "\r" not in t.old and "\r" not in t.new:
        old, expected = old.replace("\n", "\r\n"), expected.replace("\n", "\r\n")
    return diff, old, expected, numberless


def detab(hunks: list[Hunk]) -> bool:
    """Leading tabs to 4 spaces, as a model writes them; whether anything changed.

    Context and removed lines always; added lines only in a hunk whose old side shows tab
    indentation (otherwise the true indentation of the added lines cannot be known).
    Whitespace-only lines are left alone.
    """
    def conv(b: str) -> str:
        body = b[1:]
        stripped = body.lstrip(" \t")
        lead = body[: len(body) - len(stripped)]
        return b[0] + lead.expandtabs(4) + stripped if "\t" in lead and stripped else b

    touched = False
    for h in hunks:
        evident = any(b[:1] in (" ", "-") and b[1:2] == "\t" and b[1:].strip() for b in h.body)
        kinds = (" ", "-", "+") if evident else (" ", "-")
        new_body = [conv(b) if b[:1] in kinds else b for b in h.body]
        touched |= new_body != h.body
        h.body = new_body
    return touched


def _tab_only(text: str) -> bool:
    """Whether the line's indent is tabs alone (so a tab -> 4 spaces change is a uniform width map)."""
    lead = text[: len(text) - len(text.lstrip(" \t"))]
    return " " not in lead


def _space_indented(h: Hunk) -> bool:
    solid = [b[1:] for b in h.body if b[:1] in (" ", "-", "+") and b[1:].strip()]
    return bool(solid) and not any(s[: len(s) - len(s.lstrip(" \t"))].count("\t") for s in solid)


# --- running the tools -----------------------------------------------------------------------------


def run_ours(v: Variant) -> tuple[str, float]:
    began = time.perf_counter()
    try:
        result = apply_diff(v.old, v.diff, v.path)
    except PatchError:
        return "refused", time.perf_counter() - began
    except Exception as exc:  # a crash is a bug: counted as refused, reported on stderr
        print(f"CRASH ours {v.category} {v.origin}: {exc!r}", file=sys.stderr)
        return "refused", time.perf_counter() - began
    took = time.perf_counter() - began
    return ("exact" if result.new_text == v.expected and v.recoverable else "wrong"), took


def external(tool: str, v: Variant, root: str) -> tuple[str, float | None]:
    work = tempfile.mkdtemp(dir=root)
    try:
        target = Path(work, "t", v.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(v.old.encode("utf-8", "surrogateescape"))
        patch_file = Path(work, "change.diff")
        patch_file.write_bytes(v.diff.encode("utf-8", "surrogateescape"))
        if tool == "git":
            cmd = ["git", "apply", str(patch_file)]
        elif tool == "git-loose":
            cmd = ["git", "apply", "--recount", "-C1", "--ignore-whitespace", str(patch_file)]
        elif any(line.startswith("@@") and not HUNK_RE.match(line.rstrip("\r")) for line in v.diff.split("\n")):
            # GNU patch reads such a diff as an ed script and runs ed on it: not run; counted as refused.
            return "refused", None
        else:
            cmd = ["patch", "-p1", "--batch", "--no-backup-if-mismatch", "-s", "-r", str(Path(work, "rej")),
                   "-i", str(patch_file), v.path]
        env = dict(os.environ, GIT_CEILING_DIRECTORIES=work, GIT_CONFIG_NOSYSTEM="1", HOME=work)
        began = time.perf_counter()
        proc = subprocess.run(cmd, cwd=Path(work, "t"), capture_output=True, env=env, stdin=subprocess.DEVNULL)
        took = time.perf_counter() - began
        if proc.returncode != 0:
            return "refused", took
        after = target.read_bytes() if target.exists() else None
        ok = v.recoverable and after == (None if v.expected is None else v.expected.encode("utf-8", "surrogateescape"))
        return ("exact" if ok else "wrong"), took
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the 50,000-line case --------------------------------------------------------------------------


def huge_case(seed: int) -> list[tuple[str, float, str]]:
    """Sloppy diffs against a generated 50,000-line file of repetitive code: (what, seconds, outcome)."""
    lines: list[str] = []
    while len(lines) < 50_000:
        n = len(lines)
        lines += [f"def handler_{n}(request, value):", "    if value is None:", "        return None",
                  f"    result = compute(value, {n})", "    log(result)", "    return result", ""]
    lines = lines[:50_000]
    old = "\n".join(lines) + "\n"
    at = 40_001 - (40_001 % 7) + 3  # a 'result = compute' line near the end
    added = "    result = fast_compute(value)"
    new = "\n".join(lines[:at] + [added] + lines[at + 1:]) + "\n"

    def hunk(header: str, before: list[str], removed: str, after: list[str], pad: str = "") -> str:
        body = [" " + pad + b if b else "" for b in before] + ["-" + pad + removed, "+" + pad + added]
        return f"--- a/big.py\n+++ b/big.py\n{header}\n" + "\n".join(
            body + [" " + pad + b if b else "" for b in after]) + "\n"

    before, after = lines[at - 3: at], lines[at + 1: at + 4]
    cases = {
        "exact, right line": hunk(f"@@ -{at - 2},7 +{at - 2},7 @@", before, lines[at], after),
        "@@ @@": hunk("@@ @@", before, lines[at], after),
        "wrong line": hunk("@@ -3,7 +3,7 @@", before, lines[at], after),
        "misindented, @@ @@": hunk("@@ @@", before, lines[at], after, pad="  "),
        "tabs for spaces, @@ @@": hunk("@@ @@", before, lines[at], after).replace("     ", " \t"),
        "bad outer context (trimmed)": hunk("@@ @@", ["bogus_line()"] + before[1:], lines[at], after),
        "must-refuse: absent removed": hunk("@@ @@", before, "    result = compute(value, -1)", after),
        "must-refuse: repeated": "@@ @@\n     if value is None:\n-        return None\n+        return 0\n",
    }
    out = []
    for what, diff in cases.items():
        began = time.perf_counter()
        try:
            got = apply_diff(old, diff, "big.py").new_text
            outcome = "exact" if got == new else "wrong"
        except PatchError:
            outcome = "refused"
        out.append((what, time.perf_counter() - began, outcome))
    return out


# --- report ----------------------------------------------------------------------------------------


def legend() -> None:
    print("recoverable categories:", ", ".join(RECOVERABLE))
    print("must-refuse categories:", ", ".join(MUST_REFUSE))
    print("file-level categories (a checkout): recoverable", ", ".join(FILE_RECOVERABLE) + "; must-refuse",
          ", ".join(FILE_MUST_REFUSE))
    for name, members in CLASSES.items():
        print(f"  class {name}: {', '.join(members)}")


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:6.2f}" if n else "     -"


def table(title: str, variants: list, tools: list[str], groups=None) -> None:
    print(f"\n== {title}: {len(variants)} variants ==")
    print(f"{'tool':<10} {'category':<22} {'kind':<12} {'n':>6} {'exact%':>7} {'refused%':>8} {'wrong%':>7}")
    for tool in tools:
        for group, names in groups or (("recoverable", RECOVERABLE), ("must-refuse", MUST_REFUSE)):
            total = defaultdict(int)
            for cat in names:
                got = [v.results[tool] for v in variants if v.category == cat]
                if not got:
                    continue
                c = {k: got.count(k) for k in ("exact", "refused", "wrong")}
                for k, x in c.items():
                    total[k] += x
                total["n"] += len(got)
                print(f"{tool:<10} {cat:<22} {group:<12} {len(got):>6} {pct(c['exact'], len(got)):>7} "
                      f"{pct(c['refused'], len(got)):>8} {pct(c['wrong'], len(got)):>7}")
            n = total["n"]
            print(f"{tool:<10} {'TOTAL ' + group:<22} {group:<12} {n:>6} {pct(total['exact'], n):>7} "
                  f"{pct(total['refused'], n):>8} {pct(total['wrong'], n):>7}   (wrong: {total['wrong']})")
        times = sorted(t for v in variants if (t := v.times[tool]) is not None)
        if times:
            p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
            print(f"{tool:<10} time per patch: median {1000 * statistics.median(times):.3f} ms, "
                  f"p99 {1000 * p99:.3f} ms")
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("repos", nargs="+", metavar="REPO_PATH")
    ap.add_argument("--commits", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-variants", type=int, default=0, help="cap per repository (0: all), sampled by seed")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel runs of external tools")
    ap.add_argument("--dump", help="write our engine's failures (wrong, refused recoverable) here")
    ap.add_argument("--file-commits", type=int, default=20,
                    help="commits sampled per repository for the file-level categories (0: none)")
    ap.add_argument("--files-per-commit", type=int, default=20,
                    help="at most this many modified files of one commit, a seeded sample (0: all)")
    ap.add_argument("--list-commits", action="store_true", help="print the commits every variant comes from")
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            ap.error(f"unknown tool {t}")

    legend()
    everything: list[Variant] = []
    every_file: list[FileVariant] = []
    for repo in args.repos:
        began = time.perf_counter()
        corpus = triples(repo, args.commits, args.files_per_commit, args.seed)
        built = time.perf_counter() - began
        if args.max_variants:
            variants = [v for t in corpus for v in variants_of(t, args.seed)]
            if len(variants) > args.max_variants:
                variants = random.Random(args.seed).sample(variants, args.max_variants)
            run_tools(variants, tools, args)
        else:  # in batches, the texts dropped once run: a large repository's variants do not fit in memory
            variants = []
            for i in range(0, len(corpus), 50):
                batch = [v for t in corpus[i: i + 50] for v in variants_of(t, args.seed)]
                run_tools(batch, tools, args, len(variants))
                for v in batch:
                    v.old, v.diff, v.expected = "", "", None
                variants += batch
        print(f"\n{repo}: {len(corpus)} file changes from the last {args.commits} non-merge commits, "
              f"{len(variants)} variants (corpus built in {built:.1f} s, all in {time.perf_counter() - began:.1f} s)")
        table(repo, variants, tools)
        everything += variants
        if args.list_commits:
            print("commits:", " ".join(sorted({v.origin.split(":")[0] for v in variants})))
        if args.file_commits:
            every_file += file_level(repo, args, tools)
    if len(args.repos) > 1:
        table("all repositories", everything, tools)
        if every_file:
            table("all repositories, file level", every_file, tools, FILE_GROUPS)

    print("== 50,000-line file (ours) ==")
    for what, took, outcome in huge_case(args.seed):
        print(f"  {what:<32} {1000 * took:8.1f} ms  {outcome}")


def run_tools(variants: list[Variant], tools: list[str], args, first: int = 0) -> None:
    """Every tool on every variant (results and times set on them); ours' failures dumped."""
    if "ours" in tools:
        for v in variants:
            v.results["ours"], v.times["ours"] = run_ours(v)
    root = tempfile.mkdtemp(prefix="bench-apply-")
    try:
        for tool in (t for t in tools if t != "ours"):
            with ThreadPoolExecutor(args.jobs) as pool:
                for v, (res, took) in zip(variants, pool.map(lambda v, t=tool: external(t, v, root), variants)):
                    v.results[tool], v.times[tool] = res, took
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.dump and "ours" in tools:
        dump(args.dump, variants, first)


def file_level(repo: str, args, tools: list[str]) -> list[FileVariant]:
    """The file-level categories on a private clone of `repo`: built, run with each tool, tabled."""
    from diffcrew.tools.applyfiles import plan_changes, write_changes
    from diffcrew.tools.errors import UsageError
    began = time.perf_counter()
    co = Checkout(repo)
    try:
        label = Path(repo.rstrip("/")).name
        label = Path(repo.rstrip("/")).parent.name if label in ("repo", ".git") else label
        variants = file_variants(co, repo, label, args.commits, args.file_commits, args.seed)
        variants.sort(key=lambda v: v.base)  # one full checkout per base
        built = time.perf_counter() - began
        for tool in tools:
            for v in variants:
                v.results[tool], v.times[tool] = run_file_variant(co, v, tool, plan_changes, write_changes,
                                                                  (PatchError, UsageError))
        print(f"\n{repo}: {len(variants)} file-level variants from {args.file_commits} sampled commits "
              f"(built in {built:.1f} s, run in {time.perf_counter() - began - built:.1f} s)")
        table(f"{repo}, file level", variants, tools, FILE_GROUPS)
        if args.list_commits:
            for v in variants:
                print(f"  {v.category:<22} base {v.base[:10]} target {v.target[:10]}  {v.origin}")
        if args.dump and "ours" in tools:
            out = Path(args.dump)
            out.mkdir(parents=True, exist_ok=True)
            for i, v in enumerate(variants):
                res = v.results["ours"]
                if res == "wrong" or (v.recoverable and res == "refused"):
                    name = f"{label}-file-{v.category}-{res}-{i}"
                    (out / f"{name}.diff").write_bytes(v.text.encode("utf-8", "surrogateescape"))
                    (out / f"{name}.path").write_text(f"base {v.base}\ntarget {v.target}\n{v.origin}\n")
        return variants
    finally:
        co.close()


def dump(where: str, variants: list[Variant], first: int = 0) -> None:
    out = Path(where)
    out.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(variants, first):
        res = v.results["ours"]
        if res == "wrong" or (v.recoverable and res == "refused"):
            name = f"{v.repo}-{v.category}-{res}-{i}"
            for ext, text in (("old", v.old), ("diff", v.diff), ("new", v.expected)):
                if text is not None:  # no .new: the file is to be deleted
                    (out / f"{name}.{ext}").write_bytes(text.encode("utf-8", "surrogateescape"))
            (out / f"{name}.path").write_text(f"{v.path}\n{v.origin}\n")


if __name__ == "__main__":
    main()
