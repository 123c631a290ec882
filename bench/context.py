"""Benchmark of the repository context (not a test): speed, memory and localization recall.

    python bench/context.py /path/to/clone [--commits 100] [--skip-timing] [--skip-recall]

Timing: `build_context` cold (cache removed) and warm (cache kept), each in its own subprocess so
that the peak memory printed is that process's own. Recall: for the repository's last N
non-merge commits that modify 1-6 existing files, the commit subject is the request and the
parent the base; a commit counts as found at k when every file it touched is in the top k. A
plain baseline, ranking by `git grep` hit count of the request's words, is measured in the same
run on the same commits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from diffcrew.tools.context import build_context
from diffcrew.tools.git import GitRepo
from diffcrew.tools.rank import parse_request
from diffcrew.tools.statedir import cache_dir

REQUEST = "Fix the parser error message for unterminated string literals"
_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from diffcrew.tools.context import build_context
from diffcrew.tools.git import GitRepo
repo = GitRepo(sys.argv[1]); base = repo.resolve("HEAD")
t1 = time.perf_counter()
ctx = build_context(repo, base, sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"build": t2 - t1, "process": t2 - t0, "tokens": ctx.tokens, "files": len(ctx.files),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str
    subject: str
    files: tuple[str, ...]


def measure(repo_path: str, request: str, cold: bool) -> dict[str, float]:
    """One build_context in a fresh process; cold removes the cache first."""
    if cold:
        shutil.rmtree(cache_dir(GitRepo(repo_path).common_dir), ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", _CHILD, repo_path, request], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def timing(repo_path: str, request: str, runs: int) -> None:
    for label, cold in (("cold", True), ("warm", False)):
        results = [measure(repo_path, request, cold) for _ in range(runs)]
        build = statistics.median(r["build"] for r in results)
        proc = statistics.median(r["process"] for r in results)
        peak = max(r["peak_mb"] for r in results)
        print(f"{label}: build_context {build:.2f} s (median of {runs}), whole process {proc:.2f} s, "
              f"peak memory {peak:.0f} MB, {results[0]['files']} files, {results[0]['tokens']} tokens")


def git(repo_path: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo_path, *args], capture_output=True, text=True, check=True).stdout


def recent_commits(repo_path: str, count: int) -> list[Commit]:
    """Non-merge commits modifying 1-6 files that all exist in the parent (added files cannot be ranked)."""
    log = git(repo_path, "log", "--no-merges", "--first-parent", "--format=%x00%H %P%x09%s", "--name-status",
              "--no-renames", f"-{count * 4}", "HEAD")
    commits = []
    for block in log.split("\0")[1:]:
        head, _, body = block.partition("\n")
        ids, _, subject = head.partition("\t")
        shas = ids.split()
        changes = [line.split("\t") for line in body.strip().splitlines() if "\t" in line]
        if len(shas) != 2 or not 1 <= len(changes) <= 6 or any(c[0] not in ("M", "D") for c in changes):
            continue
        commits.append(Commit(shas[0], shas[1], subject, tuple(c[1] for c in changes)))
        if len(commits) == count:
            break
    return commits


def grep_baseline(repo_path: str, commit: Commit) -> list[str]:
    """Files ranked by how many lines match any of the request's words (git grep -c)."""
    words = sorted(w for w in parse_request(commit.subject).words if len(w) >= 3)
    if not words:
        return []
    patterns = [arg for w in words for arg in ("-e", w)]
    out = subprocess.run(["git", "-C", repo_path, "grep", "-c", "-i", "-I", "-F", *patterns, commit.parent],
                         capture_output=True, text=True).stdout
    counts = []
    for line in out.splitlines():
        path, _, n = line[len(commit.parent) + 1:].rpartition(":")
        counts.append((-int(n), path))
    return [p for _, p in sorted(counts)]


def recall(repo_path: str, count: int) -> None:
    repo = GitRepo(repo_path)
    commits = recent_commits(repo_path, count)
    hits = {"diffcrew": [0, 0], "git grep": [0, 0]}
    started = time.perf_counter()
    for commit in commits:
        ours = [r.path for r in build_context(repo, commit.parent, commit.subject).ranked[:20]]
        for name, ranked in (("diffcrew", ours), ("git grep", grep_baseline(repo_path, commit)[:20])):
            hits[name][0] += set(commit.files) <= set(ranked[:10])
            hits[name][1] += set(commit.files) <= set(ranked[:20])
    n = max(1, len(commits))
    print(f"recall on {len(commits)} commits ({time.perf_counter() - started:.0f} s):")
    for name, (at10, at20) in hits.items():
        print(f"  {name:9s} recall@10 {100 * at10 / n:5.1f}%   recall@20 {100 * at20 / n:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo")
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--request", default=REQUEST)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-recall", action="store_true")
    args = parser.parse_args()
    files = len(git(args.repo, "ls-files").splitlines())
    print(f"{args.repo}: {files} tracked files at {git(args.repo, 'rev-parse', '--short', 'HEAD').strip()}")
    if not args.skip_timing:
        timing(args.repo, args.request, args.runs)
    if not args.skip_recall:
        recall(args.repo, args.commits)


if __name__ == "__main__":
    main()
