"""Benchmark of the repository context (not a test): localization recall against baselines, speed, memory.

    python bench/context.py CLONE [CLONE ...] [--commits 40] [--seed 17] [--save /tmp/ctx-bench.json]
        [--load /tmp/ctx-bench.json] [--timing-min-files 10000] [--skip-timing] [--skip-recall]

Recall (held-out style): per repository, non-merge first-parent commits of the last --history
commits whose source files modified (status M or D, so existing at the parent) number 1-6 and
whose whole change touches at most 10 files; --commits of them are sampled with --seed. The
request is the commit subject, the base its parent, the targets those source files. A commit is
found at k when every target is in the top k. Three rankings, on the same commits in the same run:

  diffcrew   build_context(...).ranked (the repository's own context cache, as a user's run would)
  BM25       plain Okapi BM25 (k1=1.2, b=0.75) over the contents of every text file of the parent
             (at most 256 KiB), identifiers split at '_' and camelCase, lower-cased; no stemming
  git grep   files ranked by the number of lines matching any of the request's words (git grep -c)

The sampled commits (ids, subjects, targets) and each target's rank under each ranking are saved
to --save, and --load repeats a run on exactly those commits.

Timing (repositories with at least --timing-min-files files): `build_context` at HEAD cold (cache
removed), warm (cache kept), warm with a request of new words, and on the next commit (the cache
holding only HEAD^), each in its own subprocess so that the peak memory printed is that process's
own, against `git grep`'s time for the same request measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from diffcrew.tools.context import MissingBlobsWarning, build_context
from diffcrew.tools.textindex import is_text
from diffcrew.tools.ctxcache import read_blobs
from diffcrew.tools.git import GitRepo
from diffcrew.tools.inventory import DEFAULT_MAX_FILE_BYTES
from diffcrew.tools.rank import parse_request
from diffcrew.tools.statedir import cache_dir

REQUEST = "Fix the parser error message for unterminated string literals"
NEW_WORDS = ("and the timeout handling of the socket buffer", "with a retry counter for the cache lock",
             "so the window resize callback keeps the cursor")
METHODS = ("diffcrew", "BM25", "git grep")
SOURCE_EXTS = frozenset((
    "py pyi rs go js jsx mjs cjs ts tsx mts cts java kt kts scala c h cc cpp cxx hpp hh rb php cs swift "
    "vue svelte astro lua ex exs erl hs ml clj dart m mm sh").split())
K1, B = 1.2, 0.75
_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from diffcrew.tools.context import build_context
from diffcrew.tools.git import GitRepo
repo = GitRepo(sys.argv[1]); base = repo.resolve(sys.argv[3])
t1 = time.perf_counter()
ctx = build_context(repo, base, sys.argv[2])
t2 = time.perf_counter()
# VmHWM, not ru_maxrss: the latter keeps the parent's size at fork across exec
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"build": t2 - t1, "process": t2 - t0, "tokens": ctx.tokens, "files": len(ctx.files),
                  "peak_mb": peak / 1024}))
"""


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str
    subject: str
    files: tuple[str, ...]


def git(repo_path: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo_path, *args], capture_output=True, text=True, check=True).stdout


def is_source(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[1].lower() in SOURCE_EXTS


def eligible_commits(repo_path: str, history: int) -> list[Commit]:
    """Commits of the last `history` whose modified source files (existing at the parent) number 1-6."""
    log = git(repo_path, "log", "--no-merges", "--first-parent", "--format=%x00%H %P%x09%s", "--name-status",
              "--no-renames", f"-{history}", "HEAD")
    commits = []
    for block in log.split("\0")[1:]:
        head, _, body = block.partition("\n")
        ids, _, subject = head.partition("\t")
        shas = ids.split()
        changes = [line.split("\t") for line in body.strip().splitlines() if "\t" in line]
        targets = tuple(c[1] for c in changes if c[0] in ("M", "D") and is_source(c[1]))
        if len(shas) == 2 and len(changes) <= 10 and 1 <= len(targets) <= 6:
            commits.append(Commit(shas[0], shas[1], subject, targets))
    return commits


def sample(repo_path: str, count: int, seed: int, history: int) -> list[Commit]:
    pool = eligible_commits(repo_path, history)
    return sorted(random.Random(f"{seed}:{Path(repo_path).name}").sample(pool, min(count, len(pool))),
                  key=lambda c: c.sha)


# ---- BM25 baseline ------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_PARTS: dict[str, tuple[str, ...]] = {}


def ident_terms(ident: str) -> tuple[str, ...]:
    """An identifier's terms: its snake_case and camelCase parts, and the whole when it has several."""
    terms = _PARTS.get(ident)
    if terms is None:
        parts = [p.lower() for chunk in ident.split("_") for p in _CAMEL.findall(chunk)]
        terms = tuple(parts + [ident.lower()]) if len(parts) > 1 else tuple(parts) or (ident.lower(),)
        _PARTS[ident] = terms
    return terms


def bm25_terms(text: str) -> list[str]:
    return [t for ident in _IDENT.findall(text) for t in ident_terms(ident)]


class BM25:
    """Plain BM25 over file contents. Per blob, only the length and the counts of the terms of the
    requests to come are kept (the requests are known up front), so memory stays small."""

    def __init__(self, repo_path: str, vocabulary: set[str]) -> None:
        self.repo = GitRepo(repo_path)
        self.vocabulary = vocabulary
        self.blobs: dict[str, tuple[int, dict[str, int]] | None] = {}

    def _analyse(self, data: bytes) -> tuple[int, dict[str, int]] | None:
        if not is_text(data):
            return None
        length, counts = 0, Counter[str]()
        for ident, n in Counter(_IDENT.findall(data.decode("utf-8"))).items():
            terms = ident_terms(ident)
            length += n * len(terms)
            for term in terms:
                if term in self.vocabulary:
                    counts[term] += n
        return length, dict(counts)

    def rank(self, commit: Commit) -> list[str]:
        entries = [e for e in self.repo.ls_tree(commit.parent) if e.size <= DEFAULT_MAX_FILE_BYTES]
        fresh = [b for b in dict.fromkeys(e.blob for e in entries) if b not in self.blobs]
        for blob in fresh:
            self.blobs[blob] = None
        for blob, data in read_blobs(self.repo.root, fresh):
            self.blobs[blob] = self._analyse(data)
        docs = [(e.path, self.blobs[e.blob]) for e in entries if self.blobs.get(e.blob) is not None]
        n = len(docs) or 1
        avgdl = sum(d[0] for _, d in docs if d) / n or 1.0  # type: ignore[misc]
        query = set(bm25_terms(commit.subject))
        scores: Counter[str] = Counter()
        for term in query:
            hits = [(path, d[1][term], d[0]) for path, d in docs if d and term in d[1]]
            idf = math.log(1.0 + (n - len(hits) + 0.5) / (len(hits) + 0.5))
            for path, tf, dl in hits:
                scores[path] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl))
        return [p for p, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


# ---- git grep baseline --------------------------------------------------------------------------

def grep_ranking(repo_path: str, base: str, request: str) -> list[str]:
    """Files ranked by how many lines match any of the request's words (git grep -c)."""
    words = sorted(w for w in parse_request(request).words if len(w) >= 3)
    if not words:
        return []
    patterns = [arg for w in words for arg in ("-e", w)]
    out = subprocess.run(["git", "-C", repo_path, "grep", "-c", "-i", "-I", "-F", *patterns, base],
                         capture_output=True, text=True).stdout
    counts = []
    for line in out.splitlines():
        path, _, n = line[len(base) + 1:].rpartition(":")
        counts.append((-int(n), path))
    return [p for _, p in sorted(counts)]


# ---- the runs -----------------------------------------------------------------------------------

def ranks_of(targets: tuple[str, ...], ranked: list[str]) -> list[int | None]:
    """1-based rank of each target in the ranking's top 100 (None: not there)."""
    position = {p: i + 1 for i, p in enumerate(ranked[:100])}
    return [position.get(t) for t in targets]


def found(ranks: list[int | None], k: int) -> bool:
    return all(r is not None and r <= k for r in ranks)


def recall(repo_path: str, commits: list[Commit], methods: tuple[str, ...],
           saved: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """Each commit's targets' ranks; methods left out are taken from the saved run (deterministic)."""
    repo = GitRepo(repo_path)
    bm25 = BM25(repo_path, {t for c in commits for t in bm25_terms(c.subject)})
    rows, notes = [], 0
    for commit in commits:
        ranks = dict(saved.get(commit.sha, {}).get("ranks", {}))  # type: ignore[call-overload]
        if "diffcrew" in methods:
            ctx = build_context(repo, commit.parent, commit.subject)
            notes += bool(ctx.notes)
            ranks["diffcrew"] = ranks_of(commit.files, [r.path for r in ctx.ranked[:100]])
        if "BM25" in methods:
            ranks["BM25"] = ranks_of(commit.files, bm25.rank(commit))
        if "git grep" in methods:
            ranks["git grep"] = ranks_of(commit.files, grep_ranking(repo_path, commit.parent, commit.subject))
        rows.append({**asdict(commit), "ranks": ranks})
    if notes:
        print(f"  {notes} commits had files skipped for absent blobs (MissingBlobsWarning)")
    return rows


def timing(repo_path: str, request: str, runs: int) -> dict[str, float]:
    """build_context at HEAD, each run in a fresh process (median of runs), against git grep's time for
    the same request measured in the same run:
      cold         the cache removed
      warm         the cache kept, the same request again
      new request  the cache kept, a request whose words no run has asked for (one git grep)
      next commit  the cache holding only HEAD^ (its tree and terms): HEAD's index and terms derived
    """
    results: dict[str, float] = {}
    head = git(repo_path, "rev-parse", "HEAD").strip()
    state = cache_dir(GitRepo(repo_path).common_dir)

    def child(base: str, words: str) -> dict[str, float]:
        out = subprocess.run([sys.executable, "-c", _CHILD, repo_path, words, base], capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout)

    for label in ("cold", "warm", "new request", "next commit"):
        times, peaks = [], []
        for n in range(runs):
            words = request
            if label == "cold":
                shutil.rmtree(state, ignore_errors=True)
            elif label == "new request":
                words = f"{request} {NEW_WORDS[n % len(NEW_WORDS)]}"
            elif label == "next commit":
                shutil.rmtree(state, ignore_errors=True)
                child("HEAD^", request)
            measured = child("HEAD", words)
            times.append(measured["build"])
            peaks.append(measured["peak_mb"])
        results[label], results[f"{label} peak_mb"] = statistics.median(times), max(peaks)
    greps = []
    for _ in range(runs):
        started = time.perf_counter()
        grep_ranking(repo_path, head, request)
        greps.append(time.perf_counter() - started)
    results["grep"] = statistics.median(greps)
    return results


def table(rows_by_repo: dict[str, list[dict[str, object]]], files: dict[str, int]) -> None:
    print(f"\n{'repository':14s} {'files':>6s} {'n':>4s} " + " ".join(f"{m + '@10':>12s}" for m in METHODS)
          + "  vs BM25  vs grep")
    pooled = {m: 0 for m in METHODS}
    total = 0
    for name, rows in rows_by_repo.items():
        n = len(rows)
        at10 = {m: sum(found(r["ranks"][m], 10) for r in rows) for m in METHODS}  # type: ignore[index]
        for m in METHODS:
            pooled[m] += at10[m]
        total += n
        pct = {m: 100 * at10[m] / max(1, n) for m in METHODS}
        print(f"{name:14s} {files[name]:6d} {n:4d} " + " ".join(f"{pct[m]:11.1f}%" for m in METHODS)
              + f"  {pct['diffcrew'] - pct['BM25']:+7.1f} {pct['diffcrew'] - pct['git grep']:+7.1f}")
    pct = {m: 100 * pooled[m] / max(1, total) for m in METHODS}
    print(f"{'pooled':14s} {'':6s} {total:4d} " + " ".join(f"{pct[m]:11.1f}%" for m in METHODS)
          + f"  {pct['diffcrew'] - pct['BM25']:+7.1f} {pct['diffcrew'] - pct['git grep']:+7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="+")
    parser.add_argument("--commits", type=int, default=40)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--save", default="/tmp/ctx-bench.json")
    parser.add_argument("--load", help="repeat the run on the commits saved by an earlier one")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="rankings to measure now; with --load, the others' saved ranks are reused")
    parser.add_argument("--request", default=REQUEST)
    parser.add_argument("--timing-min-files", type=int, default=10_000)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-recall", action="store_true")
    args = parser.parse_args()
    methods = tuple(m for m in args.methods.split(",") if m)
    warnings.filterwarnings("ignore", category=MissingBlobsWarning)  # counted per repository instead
    saved = json.loads(Path(args.load).read_text()) if args.load else {}
    report: dict[str, object] = {"seed": saved.get("seed", args.seed), "argv": sys.argv[1:], "repos": {}}
    rows_by_repo, files = {}, {}
    for repo_path in args.repos:
        name = Path(repo_path).name
        files[name] = len(git(repo_path, "ls-tree", "-r", "--name-only", "HEAD").splitlines())
        head = git(repo_path, "rev-parse", "HEAD").strip()
        entry: dict[str, object] = {"path": repo_path, "head": head, "files": files[name]}
        print(f"{name}: {files[name]} files at {head[:12]}", flush=True)
        if not args.skip_timing and files[name] >= args.timing_min_files:
            t = timing(repo_path, args.request, args.runs)
            entry["timing"] = t
            print("  " + ", ".join(f"{label} {t[label]:.2f} s ({t[label] / t['grep']:.3f}x git grep, peak "
                                   f"{t[label + ' peak_mb']:.0f} MB)" for label in ("cold", "warm", "new request",
                                                                                   "next commit"))
                  + f"; git grep {t['grep']:.2f} s (median of {args.runs})", flush=True)
        if not args.skip_recall:
            if saved and name in saved["repos"]:
                commits = [Commit(c["sha"], c["parent"], c["subject"], tuple(c["files"]))
                           for c in saved["repos"][name]["commits"]]
                previous = {c["sha"]: c for c in saved["repos"][name]["commits"]}
            else:
                commits = sample(repo_path, args.commits, report["seed"], args.history)  # type: ignore[arg-type]
                previous = {}
            started = time.perf_counter()
            rows_by_repo[name] = recall(repo_path, commits, methods if previous else METHODS, previous)
            entry["commits"] = rows_by_repo[name]
            print(f"  {len(commits)} commits in {time.perf_counter() - started:.0f} s", flush=True)
        report["repos"][name] = entry  # type: ignore[index]
        Path(args.save).write_text(json.dumps(report, indent=1))
    if rows_by_repo:
        table(rows_by_repo, files)
    print(f"\nseed {report['seed']}; commits and ranks saved to {args.save}")


if __name__ == "__main__":
    main()
