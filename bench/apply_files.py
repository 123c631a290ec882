"""File-level categories of bench/apply.py (issue 14): whole diffs applied to a real checkout.

Each variant is (base commit, target commit, text): the checkout is reset to `base`, the text is
applied (ours: diffcrew.tools.applyfiles.plan_changes + write_changes; git apply; GNU patch), and
every path that changed or should have is compared with `target` (content and executable bit).
Targets that history lacks (one file of a commit, a rename, a mode change, a binary file) are
synthesized as commits in a private `git clone --shared` of the repository; the mirror itself is
never written.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from apply_cases import determined, hunk_plan
from apply_corpus import file_lines, git_dir, parse_git_diff, starts, text_of

FILE_RECOVERABLE = (
    "abs-path", "bare-name", "no-header-multi", "diff-u-two-names", "format-patch", "format-patch-series",
    "rename", "copy", "mode", "new-file-exec", "binary-literal", "binary-delta",
)
FILE_MUST_REFUSE = ("bare-name-ambiguous", "no-header-ambiguous")
FILE_TOOLS = ("ours", "git", "git-loose", "patch")
MAX_TEXT = 200_000  # characters: a real commit's diff larger than this is not a model's answer
ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
       "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000"}


@dataclass
class FileVariant:
    repo: str
    category: str
    recoverable: bool
    base: str
    target: str
    text: str
    origin: str  # the real commit it comes from, and what was synthesized
    results: dict[str, str] = field(default_factory=dict)
    times: dict[str, float | None] = field(default_factory=dict)


class Checkout:
    """A `git clone --shared` of a repository, checked out detached; reset between variants by
    restoring only the paths a variant touched."""

    def __init__(self, repo: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-files-"))
        self.root = self.dir / "co"
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", git_dir(repo), str(self.root)],
                       check=True, capture_output=True, env=self.env())
        self.git("config", "core.filemode", "true")
        self.git("config", "core.autocrlf", "false")
        self.head: str | None = None
        self._names: dict[tuple[str, str], list[str]] = {}

    def env(self) -> dict[str, str]:
        return dict(os.environ, **ENV, HOME=str(self.dir))

    def git(self, *args: str, input: bytes | None = None, check: bool = True, index: str | None = None) -> bytes:
        env = self.env()
        if index:
            env["GIT_INDEX_FILE"] = index
        return subprocess.run(["git", "-C", str(self.root), *args], check=check, capture_output=True,
                              input=input, env=env).stdout

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- synthesized commits ---

    def commit_with(self, base: str, changes: dict[str, tuple[str, bytes] | None], message: str) -> str:
        """A commit on `base` whose tree is base's with `changes` (path -> (mode, bytes), None: removed)."""
        index = str(self.dir / "index.tmp")
        self.git("read-tree", base, index=index)
        for path, what in changes.items():
            if what is None:
                self.git("update-index", "--force-remove", "--", path, index=index)
            else:
                blob = self.git("hash-object", "-w", "--stdin", input=what[1]).decode().strip()
                self.git("update-index", "--add", "--cacheinfo", f"{what[0]},{blob},{path}", index=index)
        tree = self.git("write-tree", index=index).decode().strip()
        os.unlink(index)
        return self.git("commit-tree", tree, "-p", base, "-m", message).decode().strip()

    # --- applying and comparing ---

    def reset(self, base: str) -> None:
        if self.head != base:
            self.git("checkout", "-q", "-f", "--detach", base)
            self.git("clean", "-fdxq")
            self.head = base
            return
        touched = self.touched()
        tracked = set(self.git("ls-tree", "-r", "-z", "--name-only", base, "--", *touched).decode(
            "utf-8", "surrogateescape").split("\0")) - {""} if touched else set()
        for path in touched - tracked:
            (self.root / path).unlink(missing_ok=True)
        if tracked:
            self.git("checkout", "-q", "-f", base, "--", *sorted(tracked))
        self.git("clean", "-fdxq")

    def touched(self) -> set[str]:
        raw = self.git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames").decode(
            "utf-8", "surrogateescape")
        return {entry[3:] for entry in raw.split("\0") if len(entry) > 3}

    def matches(self, base: str, target: str) -> bool:
        """Whether every path the text changed, or the target changes, is as in `target`."""
        key = (base, target)
        if key not in self._names:
            self._names[key] = self.git("diff", "--no-renames", "--name-only", "-z", base, target).decode(
                "utf-8", "surrogateescape").split("\0")
        for path in (self.touched() | set(self._names[key])) - {""}:
            listed = self.git("ls-tree", "-z", target, "--", path).decode("utf-8", "surrogateescape")
            here = self.root / path
            if not listed:
                if here.exists() or here.is_symlink():
                    return False
                continue
            mode, _kind, rest = listed.split(" ", 2)
            sha = rest.split("\t", 1)[0]
            if not here.is_file() or here.read_bytes() != self.git("cat-file", "blob", sha):
                return False
            if bool(here.stat().st_mode & 0o100) != (mode == "100755"):
                return False
        return True


def run_file_variant(co: Checkout, v: FileVariant, tool: str, plan_changes, write_changes,
                     errors: tuple[type[BaseException], ...]) -> tuple[str, float | None]:
    co.reset(v.base)
    took: float | None = None
    if tool == "ours":
        began = time.perf_counter()
        try:
            changes = plan_changes(co.root, v.text)
            took = time.perf_counter() - began
            write_changes(co.root, changes)
        except errors:
            return "refused", time.perf_counter() - began if took is None else took
        except Exception as exc:  # a crash is a bug: counted as refused, reported on stderr
            print(f"CRASH ours {v.category} {v.origin}: {exc!r}", file=sys.stderr)
            return "refused", time.perf_counter() - began if took is None else took
    else:
        patch_file = co.dir / "change.diff"
        patch_file.write_bytes(v.text.encode("utf-8", "surrogateescape"))
        cmd = {"git": ["git", "apply", str(patch_file)],
               "git-loose": ["git", "apply", "--recount", "-C1", "--ignore-whitespace", str(patch_file)],
               "patch": ["patch", "-p1", "--batch", "--no-backup-if-mismatch", "-s", "-r", "-", "-i",
                         str(patch_file)]}[tool]
        began = time.perf_counter()
        proc = subprocess.run(cmd, cwd=co.root, capture_output=True, env=co.env(), stdin=subprocess.DEVNULL)
        took = time.perf_counter() - began
        if proc.returncode != 0:
            return "refused", took
    if not v.recoverable:
        return "wrong", took
    return ("exact" if co.matches(v.base, v.target) else "wrong"), took


# --- generating the variants -------------------------------------------------------------------


def raw_entries(co: Checkout, parent: str, sha: str, *flags: str) -> list[tuple[str, str, str, list[str]]]:
    """(old mode, new mode, status, paths) per changed file between two commits."""
    raw = co.git("diff", "--raw", "-z", "--no-abbrev", *flags, parent, sha).decode("utf-8", "surrogateescape")
    parts = raw.split("\0")
    out = []
    i = 0
    while i < len(parts) - 1:
        meta = parts[i].lstrip(":").split(" ")
        status = meta[4]
        n = 2 if status[:1] in ("R", "C") else 1
        out.append((meta[0], meta[1], status, parts[i + 1: i + 1 + n]))
        i += 1 + n
    return out


def text_modifications(co: Checkout, parent: str, sha: str) -> list[str] | None:
    """The paths of a commit that only modifies UTF-8 text files (mode 100644, no renames), else None."""
    entries = raw_entries(co, parent, sha, "--no-renames")
    if not entries or len(entries) > 4:
        return None
    paths = []
    for old_mode, new_mode, status, names in entries:
        if status != "M" or old_mode != "100644" or new_mode != "100644":
            return None
        sides = (co.git("show", f"{parent}:{names[0]}"), co.git("show", f"{sha}:{names[0]}"))
        if any(text_of(side) is None for side in sides):
            return None
        paths.append(names[0])
    return paths


def strip_git_headers(diff: str) -> list[tuple[str, str]]:
    """(path, hunks text) per file of a `git diff` (no renames): the text from the first @@ on."""
    out = []
    for section in re.split(r"(?m)^(?=diff --git )", diff):
        if not section.startswith("diff --git "):
            continue
        m = re.search(r"(?m)^\+\+\+ b/(.*)$", section)
        at = section.find("\n@@")
        if m and at >= 0:
            out.append((m[1], section[at + 1:]))
    return out


def header_variants(co: Checkout, repo: str, parent: str, sha: str, paths: list[str],
                    rng: random.Random) -> list[FileVariant]:
    diff = co.git("diff", "--no-color", "--no-renames", parent, sha).decode("utf-8", "surrogateescape")
    sections = strip_git_headers(diff)
    if len(sections) != len(paths):
        return []
    tracked = co.git("ls-tree", "-r", "-z", "--name-only", parent).decode("utf-8", "surrogateescape").split("\0")
    base_count: dict[str, int] = {}
    for p in tracked:
        base_count[p.rsplit("/", 1)[-1]] = base_count.get(p.rsplit("/", 1)[-1], 0) + 1
    origin = f"{sha[:10]}"
    out = [
        FileVariant(repo, "abs-path", True, parent, sha,
                    "".join(f"--- /app/{p}\n+++ /app/{p}\n{h}" for p, h in sections), origin),
        FileVariant(repo, "diff-u-two-names", True, parent, sha,
                    "".join(f"--- {p}.orig\t2024-05-01 12:00:00.000000000 +0000\n"
                            f"+++ {p}\t2024-05-01 12:00:05.000000000 +0000\n{h}" for p, h in sections), origin),
        FileVariant(repo, "format-patch", True, parent, sha,
                    co.git("format-patch", "-1", "--stdout", sha).decode("utf-8", "surrogateescape"), origin),
    ]
    # A top-level file's bare name is its path: only files in folders make a bare-name variant, and
    # one whose base name another tracked file shares cannot be told apart from it.
    ambiguous = any(base_count[p.rsplit("/", 1)[-1]] > 1 for p, _ in sections if "/" in p)
    if any("/" in p for p, _ in sections):
        out.append(FileVariant(repo, "bare-name-ambiguous" if ambiguous else "bare-name", not ambiguous, parent,
                               sha,
                               "".join(f"--- {p.rsplit('/', 1)[-1]}\n+++ {p.rsplit('/', 1)[-1]}\n{h}"
                                       for p, h in sections), origin))
    # Hunks of one file only, no header: the target is the parent with that file's change alone.
    path, hunks_text = rng.choice(sections)
    target = co.commit_with(parent, {path: ("100644", co.git("show", f"{sha}:{path}"))}, f"{sha[:10]} {path} alone")
    ok = no_header_determined(co, parent, path, hunks_text)
    out.append(FileVariant(repo, "no-header-multi" if ok else "no-header-ambiguous", ok, parent, target, hunks_text,
                           f"{origin}:{path}"))
    grand = co.git("rev-list", "--parents", "-n1", parent).decode().split()
    if len(grand) == 2 and text_modifications(co, grand[1], parent) is not None:
        series = co.git("format-patch", "--stdout", f"{grand[1]}..{sha}").decode("utf-8", "surrogateescape")
        out.append(FileVariant(repo, "format-patch-series", True, grand[1], sha, series,
                               f"{grand[1][:10]}..{origin}"))
    return out


def no_header_determined(co: Checkout, parent: str, path: str, hunks_text: str) -> bool:
    """Whether the hunks, with no file named, fit one tracked file only (that file: `path`), and are
    determined there. Candidate files are those `git grep` finds with the hunks' longest old line."""
    parsed = parse_git_diff(hunks_text)
    if parsed is None:
        return False
    hunks = parsed[1]
    sides = [h.old_side() for h in hunks]
    probe = max((x for side in sides for x in side), key=len, default="")
    if not probe.strip():
        return False
    found = co.git("grep", "-l", "-z", "-F", "-e", probe, parent, check=False).decode("utf-8", "surrogateescape")
    fitting = []
    for name in (n.split(":", 1)[1] for n in found.split("\0") if n):
        lines = file_lines(co.git("show", f"{parent}:{name}").decode("utf-8", "surrogateescape"))
        if all(starts(lines, side) for side in sides):
            fitting.append((name, lines))
    if len(fitting) != 1 or fitting[0][0] != path:
        return False
    return determined(fitting[0][1], hunk_plan(hunks), [h.old_start for h in hunks])


def structural_variants(co: Checkout, repo: str, history: list, rng: random.Random,
                        text_commits: list[tuple[str, str, list[str]]]) -> list[FileVariant]:
    """rename, copy, mode, new-file-exec, binary-literal, binary-delta: from real commits of
    `history` ((parent, sha, raw entries, has binary) per commit) when it has them (up to 3
    each), else synthesized once."""
    found: dict[str, list[FileVariant]] = {c: [] for c in ("rename", "copy", "mode", "new-file-exec",
                                                           "binary-literal", "binary-delta")}

    def take(category: str, parent: str, sha: str, *flags: str, origin: str = "") -> None:
        if len(found[category]) < 3:
            flags = flags or ("--no-renames",)  # git diff detects renames by default
            text = co.git("diff", "--no-color", "--binary", *flags, parent, sha).decode("utf-8", "surrogateescape")
            if len(text) > MAX_TEXT:
                return
            found[category].append(FileVariant(repo, category, True, parent, sha, text, origin or sha[:10]))

    for parent, sha, entries, binary in history:
        if len(entries) > 10 or any(e[0][:2] in ("12", "16") or e[1][:2] in ("12", "16") for e in entries):
            continue  # a reorganization of the tree, symbolic links and submodules are out of scope
        statuses = {e[2][:1] for e in entries}
        if "R" in statuses:
            take("rename", parent, sha, "-M")
        if "C" in statuses:
            take("copy", parent, sha, "-C")
        if any(e[2][:1] in ("M", "R", "C") and e[0] != e[1] for e in entries):
            take("mode", parent, sha, "-M")
        if any(e[2] == "A" and e[1] == "100755" for e in entries):
            take("new-file-exec", parent, sha)
        if binary and all(len(x) < 3 for x in found.values()):
            text = co.git("diff", "--binary", parent, sha).decode("utf-8", "surrogateescape")
            take("binary-delta" if "\ndelta " in text else "binary-literal", parent, sha)
    if text_commits:
        parent, sha, paths = rng.choice(text_commits)
        path = rng.choice(paths)
        data = co.git("show", f"{sha}:{path}")
        stem, dot, ext = path.rpartition(".")
        moved = f"{stem}_moved.{ext}" if dot and "/" not in ext else f"{path}_moved"
        origin = f"{sha[:10]}:{path} synthesized"
        if not found["rename"]:
            target = co.commit_with(parent, {path: None, moved: ("100644", data)}, "rename")
            take("rename", parent, target, "-M", origin=origin)
        if not found["copy"]:
            target = co.commit_with(parent, {moved: ("100644", data)}, "copy")
            take("copy", parent, target, "-C", "--find-copies-harder", origin=origin)
        if not found["mode"]:
            target = co.commit_with(parent, {path: ("100755", data)}, "mode")
            take("mode", parent, target, origin=origin)
        if not found["new-file-exec"]:
            target = co.commit_with(parent, {moved: ("100755", data)}, "new file, executable")
            take("new-file-exec", parent, target, origin=origin)
        blob = random.Random(rng.random()).randbytes(3000) + b"\0" * 16
        if not found["binary-literal"]:
            target = co.commit_with(parent, {"assets/bench.bin": ("100644", blob)}, "binary")
            take("binary-literal", parent, target, origin=origin)
        if not found["binary-delta"]:
            first = co.commit_with(parent, {"assets/bench.bin": ("100644", blob)}, "binary")
            changed = blob[:1000] + b"bench delta" + blob[1011:]
            target = co.commit_with(first, {"assets/bench.bin": ("100644", changed)}, "binary changed")
            take("binary-delta", first, target, origin=origin)
    return [v for vs in found.values() for v in vs]


def file_variants(co: Checkout, repo: str, label: str, commits: int, sample: int,
                  seed: int) -> list[FileVariant]:
    """The file-level variants of a repository: `sample` seeded commits of the last `commits`
    non-merge ones for the header categories; history 10 times deeper for real structural changes."""
    history = scan(co, commits * 10)
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{seed}|{label}|files".encode()).digest()[:8], "big"))
    recent = [(parent, sha) for parent, sha, _, _ in history[:commits]]
    text_commits = []
    for parent, sha in rng.sample(recent, len(recent)):
        paths = text_modifications(co, parent, sha)
        if paths:
            text_commits.append((parent, sha, paths))
        if len(text_commits) == sample:
            break
    out = []
    for parent, sha, paths in text_commits:
        out += header_variants(co, label, parent, sha, paths, rng)
    out += structural_variants(co, label, history, rng, text_commits)
    return out


def scan(co: Checkout, n: int) -> list[tuple[str, str, list[tuple[str, str, str]], bool]]:
    """(parent, sha, [(old mode, new mode, status)], has a binary file) for the last n non-merge
    commits with one parent, from one `git log --raw --numstat -M -C`."""
    raw = co.git("log", "--no-merges", f"-n{n}", "--format=%x01%H %P", "--raw", "--numstat", "-M", "-C",
                 "--no-abbrev", "HEAD").decode("utf-8", "surrogateescape")
    out = []
    for chunk in raw.split("\x01")[1:]:
        lines = chunk.split("\n")
        ids = lines[0].split()
        if len(ids) != 2:
            continue
        entries = [tuple(x.split("\t")[0].lstrip(":").split(" ")[i] for i in (0, 1, 4))
                   for x in lines[1:] if x.startswith(":")]
        binary = any(x.startswith("-\t-\t") for x in lines[1:])
        out.append((ids[1], ids[0], entries, binary))
    return out
