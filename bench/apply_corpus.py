"""The corpus of bench/apply.py: per-file (old, new, diff) triples from real commits, and the variant record.

Shared by the generators (apply_cases.py, apply_files.py) and the runner (apply.py).
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MAX_LINES = 3000
HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")

# --- the corpus: real triples ---------------------------------------------------------------------


@dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    tail: str  # text after the closing @@ (git's function context)
    body: list[str]  # lines with their prefix, "\ No newline..." markers included, no line ending
    eol: str = "\n"  # "\r\n" when the diff's lines carry the file's CR

    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@{self.tail}"

    def old_side(self) -> list[str]:
        return [b[1:] for b in self.body if b[:1] in (" ", "-")]


@dataclass
class Triple:
    repo: str
    commit: str
    path: str
    old: str
    new: str
    headers: list[str]  # diff --git, index, ---, +++ lines
    hunks: list[Hunk]


@dataclass
class Variant:
    repo: str
    category: str
    recoverable: bool
    path: str
    old: str
    diff: str
    expected: str | None  # the true new file, None: deleted (must-refuse: the reference the diff was made from)
    origin: str  # commit:path, for the dump
    results: dict[str, str] = field(default_factory=dict)  # tool -> exact / refused / wrong
    times: dict[str, float | None] = field(default_factory=dict)  # None: the tool was not run


def git(repo: str, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir(repo)}", *args], check=True, capture_output=True).stdout


def git_dir(repo: str) -> str:
    p = Path(repo)
    return str(p / ".git") if (p / ".git").exists() else str(p)


def text_of(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def triples(repo: str, commits: int, per_commit: int = 0, seed: int = 1) -> list[Triple]:
    """The triples of the last `commits` non-merge commits; at most `per_commit` files of a commit
    (a seeded sample) when that is not 0."""
    label = Path(repo.rstrip("/")).name
    if label in ("repo", ".git"):
        label = Path(repo.rstrip("/")).parent.name
    shas = git(repo, "log", "--no-merges", f"-n{commits}", "--format=%H").decode().split()
    found = []
    for sha in shas:
        parents = git(repo, "rev-list", "--parents", "-n1", sha).decode().split()
        if len(parents) != 2:
            continue  # a root commit
        names = git(repo, "diff-tree", "-r", "-z", "--no-renames", "--diff-filter=M", "--name-only",
                    parents[1], sha).decode("utf-8", "replace").split("\0")
        names = sorted(n for n in names if n)
        if per_commit and len(names) > per_commit:
            names = sorted(random.Random(f"{seed}|{sha}").sample(names, per_commit))
        for path in names:
            try:
                old_b = git(repo, "show", f"{parents[1]}:{path}")
                new_b = git(repo, "show", f"{sha}:{path}")
            except subprocess.CalledProcessError:
                continue
            old, new = text_of(old_b), text_of(new_b)
            if old is None or new is None or not old or old == new:
                continue
            if old.count("\n") >= MAX_LINES or new.count("\n") >= MAX_LINES:
                continue
            raw = text_of(git(repo, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
                              "-U3", parents[1], sha, "--", path))
            if raw is None:
                continue
            parsed = parse_git_diff(raw)
            if parsed is None:
                continue
            found.append(Triple(label, sha[:10], path, old, new, parsed[0], parsed[1]))
    return found


def parse_git_diff(raw: str) -> tuple[list[str], list[Hunk]] | None:
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    headers: list[str] = []
    hunks: list[Hunk] = []
    for line in lines:
        m = HUNK_RE.match(line.rstrip("\r"))
        if m:
            hunks.append(Hunk(int(m[1]), int(m[2] or 1), int(m[3]), int(m[4] or 1), m[5], []))
        elif hunks:
            hunks[-1].body.append(line)
        else:
            if line.startswith(("Binary", "GIT binary", "old mode", "new mode")):
                return None
            headers.append(line)
    if not hunks:
        return None
    for h in hunks:  # lines of a CRLF file carry their CR: keep it apart, as the line ending
        if h.body and all(b.endswith("\r") or b.startswith("\\") for b in h.body):
            h.eol = "\r\n"
            h.body = [b[:-1] if b.endswith("\r") else b for b in h.body]
        elif any(b.endswith("\r") for b in h.body):
            h.eol = ""  # mixed endings: each line keeps its own
    return headers, hunks


def render(headers: list[str], hunks: list[Hunk], header_of=None) -> str:
    out = [h + "\n" for h in headers]
    for h in hunks:
        out.append((header_of(h) if header_of else h.header()) + "\n")
        eol = h.eol or "\n"
        out.extend(b + ("\n" if b.startswith("\\") or not h.eol else eol) for b in h.body)
    return "".join(out)



def occurrences(lines: list[str], side: list[str], limit: int = 2) -> int:
    """How many times `side` occurs as a run of consecutive lines (stops counting at limit)."""
    if not side:
        return limit
    n, count = len(side), 0
    first = side[0]
    for i, line in enumerate(lines):
        if line == first and lines[i: i + n] == side:
            count += 1
            if count >= limit:
                break
    return count


def file_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [s[:-1] if s.endswith("\r") else s for s in lines]


def copy_hunks(t: Triple) -> list[Hunk]:
    return [Hunk(h.old_start, h.old_count, h.new_start, h.new_count, h.tail, list(h.body), h.eol) for h in t.hunks]


def starts(lines: list[str], side: list[str]) -> list[int]:
    """The 1-based lines where `side` occurs as a run of consecutive lines."""
    n = len(side)
    return [i + 1 for i, line in enumerate(lines) if side and line == side[0] and lines[i: i + n] == side]


def loose_occurrences(lines: list[str], side: list[str]) -> int:
    """Occurrences of `side` with whitespace runs and blank lines ignored (the loosest tier's view)."""
    key = [" ".join(x.split()) for x in side if x.strip()]
    solid = [" ".join(x.split()) for x in lines if x.strip()]
    return occurrences(solid, key) if key else 2
