"""Chaos benchmark: N seeded random runs of the real `diffcrew run` with random faults and random kill -9.

    python bench/chaos.py [--runs 200] [--seed 1] [--jobs 2] [--kill-rate 0.35] [--only SEED] [--keep]

Not a test: it prints figures. Each run builds a small temporary repository, scripts the loopback fake
Messages API server (tests/fakes/server.py) with random faults (transient HTTP errors, dropped
connections, cut streams, unusable answers, bad plans, patches that do not apply, persistent
failures) and runs the installed `diffcrew` as a subprocess, which it may kill -9 at a random moment.
Every run is then classified:

  recovered     exit 0 and the new branch holds exactly the scripted result, byte for byte (parent the
                base, no other file changed), nothing else of the user's changed, no worktree left
  failed-clean  a non-zero exit with a `diffcrew: error:` message and no traceback, no branch, the
                user's repository unchanged and no worktree left; or a run killed with -9 whose
                repository is unchanged (a diffcrew branch, if any, complete) and whose next normal
                run succeeds and cleans up what was left (worktree, its record, its temp dir)
  failed-dirty  anything else: a changed working tree/index/HEAD/refs/stash, a partial or wrong
                branch, a leftover worktree, a traceback, a torn transcript (must be 0)

A run's seed reproduces it exactly (apart from timing): `--only SEED` replays one run verbosely.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffcrew.tools.statedir import runs_dir, worktrees_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from children import finish  # noqa: E402
from fakes.server import FakeMessagesServer  # noqa: E402

IDENTITY = {"GIT_AUTHOR_NAME": "Chaos", "GIT_AUTHOR_EMAIL": "chaos@example.invalid",
            "GIT_COMMITTER_NAME": "Chaos", "GIT_COMMITTER_EMAIL": "chaos@example.invalid"}
RUN_TIMEOUT = 120.0


# --- repositories -----------------------------------------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, env={**os.environ, **IDENTITY})
    return out.stdout.decode("utf-8", "replace")


def udiff(path: str, old: str | None, new: str) -> str:
    before = [] if old is None else old.splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, new.splitlines(keepends=True),
                                        "/dev/null" if old is None else f"a/{path}", f"b/{path}"))


def source(i: int) -> tuple[str, str, str]:
    """(path, old text, new text) of a small module."""
    path = ["geo.py", "units.py", "pkg/calc.py", "pkg/text.py"][i]
    old = f"def f{i}(x):\n    return x + {i}\n\n\ndef g{i}(y):\n    return y * {i + 1}\n"
    new = old.replace(f"def f{i}(x):", f"def f{i}(x: int) -> int:")
    return path, old, new


def make_repo(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "commit.gpgsign", "false")
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "initial")
    return root


def snapshot(repo: Path) -> dict[str, Any]:
    """What diffcrew must never touch: tree bytes, index, HEAD, refs (but diffcrew's own), stash, status."""
    tree = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(repo.rglob("*")) if p.is_file() and ".git" not in p.relative_to(repo).parts}
    refs = [line for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
            if not line.startswith("refs/heads/diffcrew/")]
    index = repo / ".git" / "index"
    return {"tree": tree, "index": hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else "",
            "HEAD": (repo / ".git" / "HEAD").read_text(), "refs": refs, "stash": git(repo, "stash", "list"),
            "status": git(repo, "status", "--porcelain")}


def diffcrew_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/diffcrew/").split()


def worktrees(repo: Path) -> int:
    return sum(1 for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree "))


def records(repo: Path) -> list[dict[str, Any]]:
    registry = worktrees_dir(repo / ".git")
    found = []
    for path in sorted(registry.glob("*.json")) if registry.is_dir() else []:
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            found.append({"path": str(path)})
    return found


# --- scripts ------------------------------------------------------------------------------------------------

def tool(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"tool": name, "input": data}


def plan_turn(edits: list[str]) -> dict[str, Any]:
    return tool("plan_edits", {"summary": "Type the first function of each module.",
                               "edits": [{"path": p, "action": "modify", "instructions": "Add int hints."}
                                         for p in edits]})


def transient(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["429", "500", "529", "drop", "cut"])
    if kind == "drop":
        return {"drop_connection": True}
    if kind == "cut":
        return {"cut_stream": True}
    return {"http_error": int(kind), "retry_after": 0.01, "times": rng.randint(1, 2)}


def bad_patch(rng: random.Random, path: str, old: str, new: str) -> dict[str, Any]:
    kind = rng.choice(["empty", "text", "prose", "max_tokens", "no-apply", "other-file"])
    if kind == "empty":
        return tool("submit_patch", {})
    if kind == "text":
        return {"text": "I have made the change."}
    if kind == "prose":
        return tool("submit_patch", {"patch": "Sure! I typed the function as asked."})
    if kind == "max_tokens":
        return {"content": [{"type": "tool_use", "id": "toolu_cut", "name": "submit_patch",
                             "input": {"patch": f"--- a/{path}"}}], "stop_reason": "max_tokens"}
    if kind == "no-apply":
        return tool("submit_patch", {"patch": udiff(path, "def nowhere(z):\n    pass\n", "def nowhere(z): ...\n")})
    return tool("submit_patch", {"patch": udiff("elsewhere.py", old, new)})


def bad_plan(rng: random.Random, edits: list[str]) -> dict[str, Any]:
    kind = rng.choice(["missing-file", "empty", "text", "duplicate"])
    if kind == "missing-file":
        return plan_turn(["src/" + edits[0], *edits[1:]])
    if kind == "empty":
        return tool("plan_edits", {"summary": "s", "edits": []})
    if kind == "text":
        return {"text": "Here is my plan: type the functions."}
    return plan_turn([edits[0], *edits])


@dataclass
class Scenario:
    seed: int
    files: dict[str, bytes]
    expected: dict[str, str]          # planned path -> text the branch must hold on recovery
    turns: dict[str, list[dict[str, Any]]]
    clean_turns: dict[str, list[dict[str, Any]]]
    args: list[str]
    kill_at: float | None
    latency: float
    notes: list[str] = field(default_factory=list)


def scenario(seed: int, kill_rate: float) -> Scenario:
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(4), rng.randint(1, 3)))
    files: dict[str, bytes] = {"README.md": b"# chaos\n", "data.bin": b"\x00\x01chaos\xff" * 16}
    for i in range(4):
        path, old, _ = source(i)
        files[path] = old.encode()
    edits = [source(i)[0] for i in chosen]
    expected = {source(i)[0]: source(i)[2] for i in chosen}
    notes: list[str] = []

    def maybe_transient(key: str) -> list[dict[str, Any]]:
        faults = []
        while rng.random() < 0.3:
            faults.append(transient(rng))
            notes.append(f"{key}:{next(iter(faults[-1]))}")
        return faults

    orchestrator = maybe_transient("orchestrator")
    roll = rng.random()
    if roll < 0.12:
        orchestrator += [bad_plan(rng, edits)] + maybe_transient("orchestrator")
        notes.append("orchestrator:bad-plan")
    elif roll < 0.16:
        orchestrator += [bad_plan(rng, edits), bad_plan(rng, edits)]
        notes.append("orchestrator:bad-plan-twice")
    elif roll < 0.19:
        orchestrator.insert(0, {"http_error": 529, "retry_after": 0, "times": 10})
        notes.append("orchestrator:persistent-529")
    orchestrator.append(plan_turn(edits))
    turns: dict[str, list[dict[str, Any]]] = {"orchestrator": orchestrator}
    clean: dict[str, list[dict[str, Any]]] = {"orchestrator": [plan_turn(edits)]}
    for i in chosen:
        path, old, new = source(i)
        key = f"worker:{path}"
        good = tool("submit_patch", {"patch": udiff(path, old, new)})
        entries = maybe_transient(key)
        roll = rng.random()
        if roll < 0.25:
            for _ in range(rng.randint(1, 2)):
                entries += [bad_patch(rng, path, old, new)] + maybe_transient(key)
            notes.append(f"{key}:repairable")
        elif roll < 0.31:
            entries += [bad_patch(rng, path, old, new) for _ in range(3)]
            notes.append(f"{key}:unrepairable")
        elif roll < 0.35:
            entries.insert(0, {"http_error": 400, "message": "prompt is too long"})
            notes.append(f"{key}:400")
        entries.append(good)
        turns[key] = entries
        clean[key] = [good]
    synth = maybe_transient("synthesizer")
    if rng.random() < 0.1:
        synth.insert(0, {"http_error": 400})
        notes.append("synthesizer:400-fallback")
    turns["synthesizer"] = synth + [tool("write_summary", {"title": "Type the functions", "body": "Int hints."})]
    clean["synthesizer"] = [tool("write_summary", {"title": "Type the functions", "body": "Int hints."})]
    args = rng.choice([[], ["--check", "true"], ["--check", "sleep 0.3"], ["--max-workers", "1"]])
    kill_at = rng.uniform(0.1, 3.0) if rng.random() < kill_rate else None
    return Scenario(seed, files, expected, turns, clean, args, kill_at, rng.uniform(0.0, 0.12), notes)


# --- one run ------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    seed: int
    kind: str                     # recovered | failed-clean | failed-dirty
    killed: bool = False
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repo: str = ""
    seconds: float = 0.0


def launch(repo: Path, server: FakeMessagesServer, args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, **server.env()}
    env.pop("DIFFCREW_REQUEST_TIMEOUT", None)
    return subprocess.Popen(["diffcrew", "run", "--repo", str(repo), "--yes", *args, "type the first functions"],
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def branch_problems(repo: Path, base: str, expected: dict[str, str]) -> list[str]:
    """Why the (single) diffcrew branch is not exactly the scripted result on the base."""
    branches = diffcrew_branches(repo)
    if len(branches) != 1:
        return [f"expected one diffcrew branch, found {branches}"]
    branch = branches[0]
    problems = []
    if git(repo, "rev-parse", f"{branch}^").strip() != base:
        problems.append("the branch's parent is not the base")
    changed = set(git(repo, "diff", "--name-only", base, branch).split())
    if changed != set(expected):
        problems.append(f"the branch changes {sorted(changed)}, expected {sorted(expected)}")
    for path, text in expected.items():
        blob = subprocess.run(["git", "show", f"{branch}:{path}"], cwd=repo, capture_output=True).stdout
        if blob != text.encode():
            problems.append(f"{path} on the branch differs from the scripted result")
    return problems


def transcript_problems(repo: Path, killed: bool) -> list[str]:
    problems = []
    for path in sorted(runs_dir(repo / ".git").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for n, line in enumerate(lines, 1):
            try:
                json.loads(line)
            except ValueError:
                if not (killed and n == len(lines)):  # kill -9 may tear the last line, nothing else
                    problems.append(f"transcript {path.name} line {n} is not JSON")
    return problems


def leftovers(repo: Path) -> list[str]:
    problems = []
    if worktrees(repo) != 1:
        problems.append(f"{worktrees(repo) - 1} sandbox worktree(s) still registered")
    left = records(repo)
    if left:
        problems.append(f"{len(left)} worktree record(s) left")
    return problems


def run_one(seed: int, kill_rate: float, keep: bool, verbose: bool = False) -> Outcome:
    sc = scenario(seed, kill_rate)
    tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
    outcome = Outcome(seed, "failed-dirty", notes=sc.notes, repo=str(tmp / "repo"))
    started = time.monotonic()
    try:
        repo = make_repo(tmp / "repo", sc.files)
        base = git(repo, "rev-parse", "HEAD").strip()
        before = snapshot(repo)
        rng = random.Random(seed ^ 0x5EED)
        lock = threading.Lock()

        def latency() -> float:
            with lock:
                return rng.uniform(0.0, sc.latency)

        with FakeMessagesServer(sc.turns, latency=latency) as server:
            child = launch(repo, server, sc.args)
            if sc.kill_at is not None:
                try:
                    child.wait(timeout=sc.kill_at)
                except subprocess.TimeoutExpired:
                    os.kill(child.pid, signal.SIGKILL)
                    outcome.killed = True
            code, out, err = finish(child, RUN_TIMEOUT)
        outcome.exit_code = None if outcome.killed else code
        if verbose:
            print(f"seed {seed}: notes {sc.notes} args {sc.args} kill_at {sc.kill_at} exit {code}\n{err}{out}")
        problems = outcome.problems
        if snapshot(repo) != before:
            problems.append("the user's repository changed (tree, index, HEAD, refs or stash)")
        problems += transcript_problems(repo, outcome.killed)
        if "Traceback" in err:
            problems.append("a traceback: " + err.strip().splitlines()[-1])
        if outcome.killed:
            seen = [Path(r.get("path", "")) for r in records(repo)]
            if diffcrew_branches(repo):  # killed after the ref was written: it must be the whole result
                problems += branch_problems(repo, base, sc.expected)
                for name in diffcrew_branches(repo):
                    git(repo, "update-ref", "-d", f"refs/heads/{name}")
            with FakeMessagesServer(sc.clean_turns) as server:
                code2, _, err2 = finish(launch(repo, server, ["--check", "true"]), RUN_TIMEOUT)
            if code2 != 0:
                problems.append(f"the next run after kill -9 failed (exit {code2}): {err2.strip()[-300:]}")
            else:
                problems += branch_problems(repo, base, sc.expected)
            problems += leftovers(repo)
            problems += [f"temp worktree {p} not removed" for p in seen if p.name.startswith("diffcrew-wt-")
                         and p.exists()]
            if snapshot(repo) != before:
                problems.append("the user's repository changed after the next run")
            outcome.kind = "failed-clean" if not problems else "failed-dirty"
        elif code == 0:
            problems += branch_problems(repo, base, sc.expected) + leftovers(repo)
            outcome.kind = "recovered" if not problems else "failed-dirty"
        else:
            if diffcrew_branches(repo):
                problems.append(f"exit {code} but a branch was made: {diffcrew_branches(repo)}")
            if "diffcrew: error: " not in err:
                problems.append(f"exit {code} without a 'diffcrew: error:' message")
            problems += leftovers(repo)
            outcome.kind = "failed-clean" if not problems else "failed-dirty"
            if code is None:
                problems.append(f"the run did not end within {RUN_TIMEOUT:g} s")
                outcome.kind = "failed-dirty"
    except Exception as exc:  # the harness itself: report, never hide
        outcome.problems.append(f"harness error: {exc!r}")
        outcome.kind = "failed-dirty"
    outcome.seconds = time.monotonic() - started
    if not keep and outcome.kind != "failed-dirty":
        shutil.rmtree(tmp, ignore_errors=True)
    return outcome


# --- main ---------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="Base seed; run i uses seed*100000 + i.")
    parser.add_argument("--jobs", type=int, default=2, help="Runs at once.")
    parser.add_argument("--kill-rate", type=float, default=0.35, help="Share of runs that get a kill -9.")
    parser.add_argument("--only", type=int, metavar="SEED", help="Replay one run's seed, verbosely.")
    parser.add_argument("--keep", action="store_true", help="Keep every temp repository (dirty ones are kept anyway).")
    opts = parser.parse_args()
    if shutil.which("diffcrew") is None:
        print("chaos: the diffcrew command is not installed (pip install -e .)", file=sys.stderr)
        return 2
    if opts.only is not None:
        outcome = run_one(opts.only, opts.kill_rate, True, verbose=True)
        print(json.dumps(outcome.__dict__, indent=2))
        return 0 if outcome.kind != "failed-dirty" else 1
    seeds = [opts.seed * 100_000 + i for i in range(opts.runs)]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for n, outcome in enumerate(pool.map(lambda s: run_one(s, opts.kill_rate, opts.keep), seeds), 1):
            outcomes.append(outcome)
            if outcome.kind == "failed-dirty":
                print(f"  DIRTY seed {outcome.seed}: {'; '.join(outcome.problems)} ({outcome.repo})", flush=True)
            if n % 25 == 0:
                print(f"  ... {n}/{len(seeds)} runs, {time.monotonic() - started:.0f} s", flush=True)
    count = {k: sum(1 for o in outcomes if o.kind == k) for k in ("recovered", "failed-clean", "failed-dirty")}
    killed = [o for o in outcomes if o.killed]
    exits: dict[str, int] = {}
    for o in outcomes:
        if not o.killed:
            exits[str(o.exit_code)] = exits.get(str(o.exit_code), 0) + 1
    changed = [o for o in outcomes if any("repository changed" in p for p in o.problems)]
    print(f"\nchaos: {len(outcomes)} runs (seed {opts.seed}, jobs {opts.jobs}, kill rate {opts.kill_rate:g}) "
          f"in {time.monotonic() - started:.0f} s")
    print(f"  runs:          {len(outcomes)}")
    print(f"  recovered:     {count['recovered']}")
    print(f"  failed-clean:  {count['failed-clean']}  (of which killed with -9 and cleaned up by the next run: "
          f"{sum(1 for o in killed if o.kind == 'failed-clean')})")
    print(f"  failed-dirty:  {count['failed-dirty']}")
    print(f"  killed -9:     {len(killed)};  exit codes of the others: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(exits.items())))
    print("  repos whose state changed: " + (", ".join(f"seed {o.seed} ({o.repo})" for o in changed) or "none"))
    for o in outcomes:
        if o.kind == "failed-dirty":
            print(f"  dirty seed {o.seed} ({'killed' if o.killed else f'exit {o.exit_code}'}; {', '.join(o.notes)}): "
                  f"{'; '.join(o.problems)}")
    return 1 if count["failed-dirty"] else 0


if __name__ == "__main__":
    sys.exit(main())
