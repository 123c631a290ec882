"""The issue-14 categories of bench/apply.py: what a diff determines, and the variants built on it.

`determined` is the bench's own statement of the placement policy (independent of the engine's
code): it decides whether a variant whose hunks occur more than once is recoverable.
"""

from __future__ import annotations

import random
import re

from apply_corpus import Hunk, Triple, file_lines, render, starts

NEAR = 5  # a stated line this close to exactly one candidate picks it...
CLEAR = 2 * NEAR  # ...when no other candidate is this close


def loose(line: str) -> str:
    """A line with its whitespace runs collapsed: what 'ignoring whitespace' compares."""
    return " ".join(line.split())


def determined(lines: list[str], hunks: list[tuple[list[str], int | None]], true_starts: list[int],
               fuzzy: bool = False) -> bool:
    """Whether every hunk is placed by the diff alone, and placed at its true start.

    `hunks` are (old side, stated 1-based line or None) in diff order; `true_starts` their true
    1-based starts. For each hunk in order, the candidates are the places its old side occurs
    (compared ignoring whitespace when `fuzzy`). The one candidate wins; else the candidate at the
    stated line moved by the carried offset (where the previous numbered hunk landed, less its
    stated line); else the one candidate within NEAR lines of that expected line, provided no other
    is within CLEAR lines too; among several within NEAR, the one at/after the end of the previous
    hunk ("floor"). The order of the hunks alone decides nothing. Anything else is undetermined.
    """
    key = loose if fuzzy else (lambda s: s)
    keyed = [key(x) for x in lines]
    offset, floor = 0, 1
    for (side, stated), true in zip(hunks, true_starts):
        cands = starts(keyed, [key(x) for x in side])
        if not cands:
            return False
        expected = None if stated is None else stated + offset
        if len(cands) == 1:
            pick = cands[0]
        elif expected in cands:
            pick = expected
        else:
            near = {c for c in cands if expected is not None and abs(c - expected) <= NEAR}
            if len(near) == 1 and any(abs(c - expected) <= CLEAR for c in cands if c not in near):
                return False  # another copy is close too: the stated line does not tell them apart
            later = {c for c in cands if c >= floor} or set(cands)
            both = later & near  # hunk order alone decides nothing (models send hunks out of order)
            if len(both) != 1:
                return False
            pick = both.pop()
        if pick != true:
            return False
        if stated is not None:
            offset = pick - stated
        floor = pick + len(side)
    return True


def stated_line(header: str) -> int | None:
    m = re.match(r"@@ -(\d+)", header)
    return int(m[1]) if m else None


def hunk_plan(hunks: list[Hunk], header_of=None) -> list[tuple[list[str], int | None]]:
    """(old side, stated line) per hunk as the variant's headers state it."""
    return [(h.old_side(), stated_line(header_of(h) if header_of else h.header())) for h in hunks]


def true_starts_of(old_lines: list[str], hunks: list[Hunk]) -> list[int]:
    """The true 1-based start of each hunk's old side (git's old_start; 0,0 hunks start after line 0)."""
    return [h.old_start if h.old_count else h.old_start + 1 for h in hunks]


def repeated_kind(old_lines: list[str], hunks: list[Hunk], header_of) -> str:
    """The must-refuse category of an undetermined header variant: a stated line > NEAR from every
    copy is `repeated-wrong-line`; one near a wrong copy is `repeated-misled`; no line: `repeated-real`."""
    plan = hunk_plan(hunks, header_of)
    if all(s is None for _, s in plan):
        return "repeated-real"
    for side, stated in plan:
        copies = starts(old_lines, side)
        if len(copies) > 1 and stated is not None and any(abs(c - stated) <= NEAR for c in copies):
            return "repeated-misled"
    return "repeated-wrong-line"


# --- repeated blocks ---------------------------------------------------------------------------


def with_copy_appended(t: Triple, h: Hunk) -> tuple[str, str] | None:
    """(old, new) with a copy of h's old side appended after a blank line, or None when the file's
    end is not a plain newline-terminated line (a copy there would change what the diff says)."""
    if not (t.old.endswith("\n") and t.new.endswith("\n")) or "\r" in t.old + t.new:
        return None
    if any(b.startswith("\\") for x in t.hunks for b in x.body):
        return None
    last = t.hunks[-1]
    if last.old_start + last.old_count - 1 >= len(file_lines(t.old)):
        return None  # a hunk with short trailing context at the end is anchored there (GNU patch)
    block = "\n" + "\n".join(h.old_side()) + "\n"
    return t.old + block, t.new + block


def repeated_near_line(t: Triple, rng: random.Random):
    """A hunk whose old side occurs twice (really, or by an appended copy), its stated line 1-5 off
    the true copy and > 10 from the other; the other hunks exact. Yields (diff, old, new) or None."""
    order = list(range(len(t.hunks)))
    rng.shuffle(order)
    for i in order:
        h = t.hunks[i]
        if not h.old_count or not any(s.strip() for s in h.old_side()):
            continue
        if h.old_start == 1 or h.old_start + h.old_count - 1 >= len(file_lines(t.old)):
            continue  # a hunk at the file's first or last line is anchored there, not placed by its line
        old, new = t.old, t.new
        copies = starts(file_lines(old), h.old_side())
        if len(copies) != 2:
            made = with_copy_appended(t, h)
            if made is None:
                continue
            old, new = made
            copies = starts(file_lines(old), h.old_side())
            if len(copies) != 2:
                continue
        true = h.old_start
        other = next(c for c in copies if c != true)
        d = rng.choice([-1, 1]) * rng.randint(1, NEAR)
        stated = true + d
        if stated < 1 or abs(stated - other) <= 10:
            stated = true - d
            if stated < 1 or abs(stated - other) <= 10:
                continue

        def header_of(x: Hunk, h=h, d=stated - true) -> str:
            if x is not h:
                return x.header()
            return f"@@ -{x.old_start + d},{x.old_count} +{max(1, x.new_start + d)},{x.new_count} @@"
        if determined(file_lines(old), hunk_plan(t.hunks, header_of), true_starts_of([], t.hunks)):
            return render(t.headers, t.hunks, header_of), old, new
    return None


def repeated_offset(t: Triple, rng: random.Random):
    """K (5-30) lines put at the top of old and new; a later hunk's old side written over lines
    between the hunks so that it starts exactly at that hunk's stale stated line, while the true
    block is at stated+K. Only hunk 1's offset, carried, finds it. (diff, old, new) or None."""
    if len(t.hunks) < 2 or "\r" in t.old + t.new:
        return None
    old_lines = file_lines(t.old)
    h1 = t.hunks[0]
    if h1.old_start == 1 or len(starts(old_lines, h1.old_side())) != 1:
        return None  # (a hunk at line 1 is anchored at the start: padding would change what it says)
    k = rng.randint(5, 30)
    old_keep = t.old.split("\n")
    new_keep = t.new.split("\n")
    pad = [f"pad line {n} of {k}" for n in range(1, k + 1)]
    for j in rng.sample(range(1, len(t.hunks)), len(t.hunks) - 1):
        hj = t.hunks[j]
        side = hj.old_side()
        n = len(side)
        if not n or not any(s.strip() for s in side) or n > k:
            continue
        # In the padded old file the copy occupies [s, s+n); those are original lines [s-k, s-k+n).
        lo = hj.old_start - k
        if lo < h1.old_start + h1.old_count or lo < 1:
            continue
        hi = lo + n  # exclusive, original numbering
        if any(x.old_start < hi and lo < x.old_start + x.old_count for x in t.hunks):
            continue  # the overwritten lines must be outside every hunk
        delta = sum(x.new_count - x.old_count for x in t.hunks if x.old_start + x.old_count <= lo)
        old2 = list(old_keep)
        new2 = list(new_keep)
        old2[lo - 1: hi - 1] = side
        new2[lo - 1 + delta: hi - 1 + delta] = side
        old2 = pad + old2
        new2 = pad + new2
        old_text, new_text = "\n".join(old2), "\n".join(new2)
        lines = file_lines(old_text)
        trues = [x.old_start + k for x in t.hunks]
        if starts(lines, side)[:1] != [hj.old_start] or hj.old_start + k not in starts(lines, side):
            continue
        plan = hunk_plan(t.hunks)
        if determined(lines, plan, trues):
            return render(t.headers, t.hunks), old_text, new_text
    return None


# --- guesses: realistic misrememberings ----------------------------------------------------------

IDENT_RE = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
NUMBER_RE = re.compile(r"\b\d+\b")


def similar_name(tok: str, rng: random.Random) -> str:
    """A name a model might write for `tok`: plural/singular, an underscore, a case slip."""
    options = [tok[:-1] if tok.endswith("s") else tok + "s", tok + "_", "_" + tok]
    if "_" in tok.strip("_"):
        options.append(tok.replace("_", "", 1))
    if tok[0].isalpha():
        options.append(tok[0].swapcase() + tok[1:])
    return rng.choice(options)


def misremember(line: str, rng: random.Random, what: str, file_keys: set[str]) -> str | None:
    """`line` with one identifier renamed (what='name') or one number changed (what='number'), such
    that the result does not occur in the file even ignoring whitespace; None when it cannot be."""
    pattern = IDENT_RE if what == "name" else NUMBER_RE
    spots = list(pattern.finditer(line))
    rng.shuffle(spots)
    for m in spots[:6]:
        tok = m[0]
        for _ in range(3):
            if what == "name":
                repl = similar_name(tok, rng)
            else:
                n = int(tok)
                repl = str(n + rng.choice([1, 2, 10]) if n == 0 or rng.random() < 0.5 else n - 1)
            out = line[: m.start()] + repl + line[m.end():]
            if out != line and loose(out) not in file_keys:
                return out
    return None


def changed_indexes(h: Hunk) -> list[int]:
    return [k for k, b in enumerate(h.body) if b[:1] in ("+", "-")]


def guess(t: Triple, hunks: list[Hunk], rng: random.Random, category: str) -> bool:
    """Mutate `hunks` (copies of t's) in place for a must-refuse guess category; whether it could."""
    file_keys = {loose(x) for x in file_lines(t.old)}
    spots = []
    for h in hunks:
        changed = changed_indexes(h)
        if category in ("renamed-removed", "number-removed"):
            spots += [(h, k) for k in changed if h.body[k][:1] == "-"]
        elif category == "renamed-adjacent":
            spots += [(h, k) for k in {c + d for c in changed for d in (-1, 1)}
                      if 0 <= k < len(h.body) and h.body[k][:1] == " "]
        elif category == "adjacent-insertion" and changed and all(h.body[k][:1] == "+" for k in changed):
            first, last = changed[0], changed[-1]
            if last - first + 1 == len(changed):  # one block of added lines
                spots += [(h, k) for k in (first - 1, last + 1) if 0 <= k < len(h.body) and h.body[k][:1] == " "]
    rng.shuffle(spots)
    for h, k in spots:
        what = "number" if category == "number-removed" else rng.choice(["name", "number"]) \
            if category != "renamed-removed" else "name"
        for w in ([what, "name"] if what == "number" and category != "number-removed" else [what]):
            out = misremember(h.body[k][1:], rng, w, file_keys)
            if out is not None:
                h.body[k] = h.body[k][0] + out
                return True
    return False


def far_context(t: Triple, hunks: list[Hunk], rng: random.Random) -> bool:
    """An outer context line 2+ lines from any change, and not the nearest non-blank one to it,
    contradicts the file (in place); only when the hunk, trimmed up to that line, is still
    determined at its true place. Whether it could."""
    old_lines = file_lines(t.old)
    file_keys = {loose(x) for x in old_lines}
    order = list(range(len(hunks)))
    rng.shuffle(order)
    for i in order:
        h = hunks[i]
        changed = changed_indexes(h)
        if not changed:
            continue
        # Never the nearest non-blank context line on either side: blank lines between it and the
        # change protect nothing, so it counts as next to the change (the engine's policy).
        solid = [k for k, b in enumerate(h.body) if b[:1] == " " and b[1:].strip()]
        front = max((k for k in solid if k < changed[0]), default=-1)
        back = min((k for k in solid if k > changed[-1]), default=len(h.body))
        spots = [k for k in range(min(front, changed[0] - 1)) if h.body[k][:1] == " "]
        spots += [k for k in range(max(back, changed[-1] + 1) + 1, len(h.body)) if h.body[k][:1] == " "]
        rng.shuffle(spots)
        for k in spots:
            out = misremember(h.body[k][1:], rng, rng.choice(["name", "number"]), file_keys)
            if out is None:
                continue
            # Trimmed: the body without the contradicting line and the context outside it.
            body = h.body[k + 1:] if k < changed[0] else h.body[:k]
            cut = k + 1 if k < changed[0] else 0
            side = [b[1:] for b in body if b[:1] in (" ", "-")]
            plan = hunk_plan(hunks)
            plan[i] = (side, h.old_start + cut)
            trues = true_starts_of(old_lines, hunks)
            trues[i] = h.old_start + cut
            if len(starts(old_lines, side)) == 1 and determined(old_lines, plan, trues):
                h.body[k] = " " + out
                return True
    return False


# --- whitespace and punctuation drift --------------------------------------------------------------


def drift_per_line(t: Triple, hunks: list[Hunk], rng: random.Random) -> bool:
    """In one hunk: a context line loses or gains one space of indent, another gains trailing
    spaces, a blank context line is written empty; added lines untouched. Only when the hunk still
    matches exactly one place ignoring whitespace (and the whole diff is determined so)."""
    old_lines = file_lines(t.old)
    if not determined(old_lines, hunk_plan(t.hunks), true_starts_of(old_lines, t.hunks), fuzzy=True):
        return False
    order = list(range(len(hunks)))
    rng.shuffle(order)
    for i in order:
        h = hunks[i]
        if len(starts([loose(x) for x in old_lines], [loose(x) for x in h.old_side()])) != 1:
            continue
        solid = [k for k, b in enumerate(h.body) if b[:1] == " " and b[1:].strip()]
        if len(solid) < 2:
            continue
        a, b = rng.sample(solid, 2)
        line = h.body[a][1:]
        if line.startswith(" ") and rng.random() < 0.5:
            h.body[a] = " " + line[1:]
        else:
            h.body[a] = "  " + line
        h.body[b] = h.body[b] + " " * rng.randint(1, 4)
        h.body = ["" if x == " " else x for x in h.body]
        return True
    return False


def tabbed(text: str) -> str:
    """Leading runs of 4 spaces as tabs: a space-indented file as a tab-indented one."""
    out = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        n = len(line) - len(body)
        out.append("\t" * (n // 4) + " " * (n % 4) + body)
    return "\n".join(out)


def tab_space_mixed(t: Triple, rng: random.Random):
    """In a tab-indented file (a 4-space one made tab-indented when the repository has none), some
    context/removed lines' tabs become 4 spaces, others not; added lines untouched.
    (diff, old, new) or None."""
    if "\r" in t.old + t.new:
        return None
    tab_file = sum(x.startswith("\t") for x in file_lines(t.old)) > sum(x.startswith("    ") for x in file_lines(t.old))
    old, new, hunks = t.old, t.new, [Hunk(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body))
                                     for h in t.hunks]
    if not tab_file:
        old, new = tabbed(old), tabbed(new)
        for h in hunks:
            h.body = [b[0] + tabbed(b[1:]) if b[:1] in (" ", "-", "+") else b for b in h.body]
        if "\t" not in old:
            return None
    old_lines = file_lines(old)
    if not determined(old_lines, hunk_plan(hunks), true_starts_of(old_lines, hunks), fuzzy=True):
        return None
    spots = [(h, k) for h in hunks for k, b in enumerate(h.body) if b[:1] in (" ", "-") and b[1:2] == "\t"
             and b[1:].strip()]
    if len(spots) < 2:
        return None
    rng.shuffle(spots)
    for h, k in spots[: max(1, len(spots) // 2)]:
        line = h.body[k][1:]
        body = line.lstrip("\t")
        h.body[k] = h.body[k][0] + "    " * (len(line) - len(body)) + body
    return render(t.headers, hunks), old, new


PUNCT = [
    (re.compile(r'"([^"\n]*)"'), "\u201c\\1\u201d"),
    (re.compile(r"(?<=\w)'(?=\w)"), "\u2019"),
    (re.compile(r"'([^'\n]*)'"), "\u2018\\1\u2019"),
    (re.compile(r" - "), " \u2013 "),
    (re.compile(r"\.\.\."), "\u2026"),
]


def ascii_punct(line: str) -> str:
    """Typographic punctuation back to ASCII: what an engine may compare."""
    for a, b in (("\u201c", '"'), ("\u201d", '"'), ("\u2018", "'"), ("\u2019", "'"), ("\u2013", "-"),
                 ("\u2026", "...")):
        line = line.replace(a, b)
    return line


def unicode_punct(t: Triple, hunks: list[Hunk], rng: random.Random) -> bool:
    """Up to two context/removed lines with ASCII quotes, ' - ' or '...' get “ ” ‘ ’ – … as a model
    writes them; added lines untouched. Only when the diff is determined with punctuation folded."""
    old_lines = file_lines(t.old)
    if any(ch in t.old for ch in "\u201c\u201d\u2018\u2019\u2013\u2026"):
        return False
    spots = [(h, k) for h in hunks for k, b in enumerate(h.body) if b[:1] in (" ", "-")]
    rng.shuffle(spots)
    done = 0
    for h, k in spots:
        line = h.body[k][1:]
        out = line
        for pattern, repl in PUNCT:
            out = pattern.sub(repl, out)
        if out != line and ascii_punct(out) == line:
            h.body[k] = h.body[k][0] + out
            done += 1
            if done == 2:
                break
    return bool(done) and determined([ascii_punct(x) for x in old_lines], hunk_plan(t.hunks),
                                     true_starts_of(old_lines, t.hunks))


# --- bytes: strings hold bytes decoded with surrogateescape --------------------------------------


def as_bytes_text(text: str, codec: str) -> str:
    """`text` encoded with `codec`, then read back as the engine's callers read files."""
    return text.encode(codec).decode("utf-8", "surrogateescape")


def latin1(t: Triple, rng: random.Random):
    """The triple re-encoded as Latin-1 when it has non-ASCII text that Latin-1 can hold; else a
    Latin-1 byte (e9) put in one added line (and the new file). (diff, old, new) or None."""
    diff = render(t.headers, t.hunks)
    if "\r" in t.old + t.new:
        return None
    whole = t.old + t.new + diff
    if any(ord(ch) > 127 for ch in whole):
        try:
            return tuple(as_bytes_text(x, "latin-1") for x in (diff, t.old, t.new))
        except UnicodeEncodeError:
            return None
    hunks = [Hunk(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body)) for h in t.hunks]
    spots = [(h, k) for h in hunks for k, b in enumerate(h.body) if b[:1] == "+" and b[1:].strip()]
    if not spots:
        return None
    h, k = rng.choice(spots)
    at = h.new_start - 1 + sum(b[:1] in (" ", "+") for b in h.body[:k])
    new_lines = t.new.split("\n")
    if new_lines[at] != h.body[k][1:]:
        return None
    new_lines[at] += " caf\udce9"
    h.body[k] += " caf\udce9"
    return render(t.headers, hunks), t.old, "\n".join(new_lines)


def plain_end(t: Triple) -> bool:
    return (t.old.endswith("\n") and t.new.endswith("\n") and "\r" not in t.old + t.new
            and not any(b.startswith("\\") for h in t.hunks for b in h.body))


def cr_no_eol(t: Triple):
    """The file ends without a newline, its last line ending in CR (kept by both sides); the last
    hunk reaches it as context. (diff, old, new) or None."""
    if not plain_end(t):
        return None
    h = t.hunks[-1]
    if h.body[-1][:1] != " " or h.old_start + h.old_count - 1 != len(file_lines(t.old)):
        return None
    hunks = [Hunk(x.old_start, x.old_count, x.new_start, x.new_count, x.tail, list(x.body), "") for x in t.hunks]
    hunks[-1].body[-1] += "\r"
    hunks[-1].body.append("\\ No newline at end of file")
    return render(t.headers, hunks), t.old[:-1] + "\r", t.new[:-1] + "\r"


def crlf_region(t: Triple, rng: random.Random):
    """A mixed-ending file: one hunk's lines, and 2 lines around them, end in CRLF, the rest LF;
    the diff's lines for that hunk carry the CR as git shows them. (diff, old, new) or None."""
    if not plain_end(t):
        return None
    i = rng.randrange(len(t.hunks))
    h = t.hunks[i]
    if not h.old_count:
        return None
    old = t.old.split("\n")[:-1]
    new = t.new.split("\n")[:-1]
    lo, hi = max(1, h.old_start - 2), min(len(old), h.old_start + h.old_count - 1 + 2)
    if any(x is not h and x.old_start <= hi and lo < x.old_start + x.old_count for x in t.hunks):
        return None
    before = h.new_start - h.old_start
    after = (h.new_start + h.new_count) - (h.old_start + h.old_count)
    new_lo, new_hi = lo + before, hi + after
    if new_lo < 1 or new_hi > len(new) or old[lo - 1: h.old_start - 1] != new[new_lo - 1: h.new_start - 1]:
        return None
    old[lo - 1: hi] = [x + "\r" for x in old[lo - 1: hi]]
    new[new_lo - 1: new_hi] = [x + "\r" for x in new[new_lo - 1: new_hi]]
    hunks = [Hunk(x.old_start, x.old_count, x.new_start, x.new_count, x.tail, list(x.body), x.eol) for x in t.hunks]
    hunks[i].body = [b + "\r" for b in hunks[i].body]
    hunks[i].eol = ""
    return render(t.headers, hunks), "\n".join(old) + "\n", "\n".join(new) + "\n"


def epoch_delete(t: Triple) -> str:
    """The whole old file removed, as `diff -u old /dev/null`-style tools write a deletion: the new
    side dated at the epoch."""
    lines = t.old.split("\n")
    final = lines[-1] == ""
    if final:
        lines.pop()
    out = [f"--- a/{t.path}\t2024-05-01 12:00:00.000000000 +0000",
           f"+++ b/{t.path}\t1970-01-01 00:00:00.000000000 +0000",
           f"@@ -1,{len(lines)} +0,0 @@", *("-" + x for x in lines)]
    if not final:
        out.append("\\ No newline at end of file")
    return "\n".join(out) + "\n"
