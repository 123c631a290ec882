"""Fan-out benchmark: wall time of `diffcrew run` against the ideal and a sequential baseline.

Not a test. The real CLI runs as a subprocess against the loopback fake Messages API server
with a fixed latency per call; every figure is measured in the same run, so the ratios hold on a
shared, noisy machine:

  ideal       plan + ceil(N / max_workers) worker rounds + review + summary, in model latency alone
  sequential  the same run with --max-workers 1: N + 3 calls one after another
  review      the orchestrator's review of the combined change (it approves here): its share of the
              run's cost, priced from the report's `review` usage like every other role
  floor       a bare `python -c "import anthropic"`: the interpreter start-up every run pays

Goal (pipeline issue): wall <= 1.15 x ideal + floor.

Each figure is the median of --repeat runs (default 3), interleaved, to damp the noise of a
shared machine.

    python bench/fanout.py [--files 6] [--latency 1.0] [--max-workers 8] [--repeat 3]

Issue 8 (all of it, about 6-7 minutes on a 2-core machine):

    python bench/fanout.py --files 1,6,20,50 --jitter --rate-limit 4

`--files` takes a comma-separated list of file counts. Per N the fixed-latency run also reports:

  outside     time outside model calls: wall - ideal (the ideal is the model latency on the
              critical path); per file: (wall - ideal - floor) / N
  phases      where the outside time sits, from the server's arrival times: start -> plan request,
              plan answer -> first worker request, worker span beyond its rounds of latency, last
              worker answer -> review request (the sandbox checks), review answer -> summary
              request, summary answer -> exit (commit)
  memory      the diffcrew process's max RSS (os.wait4 rusage of that one child)
  tokens      worker input/output tokens per file from the `--json` report's usage (the fake server
              counts the messages only, about 4 characters a token), and the bench's own estimate of
              the whole worker prompt (system + tools + messages) per file
  cacheable   share of worker prompt characters up to and including the last block that carries
              `cache_control` (system blocks first, then message content blocks in order), over all
              worker requests the server recorded (tools are left out of both sides)

Variants, interleaved with the fixed-latency runs of the same repeat:

  --jitter        latency drawn uniformly from [0.2, 2.0] s per call (seeded); its ideal is
                  plan + the makespan of the drawn worker latencies, started in arrival order on
                  max_workers slots with no overhead + review + summary
  --rate-limit K  the server admits K requests at once and answers 429 (retry-after 0.05 s) beyond;
                  ideal for K = (3 + ceil(N / K)) x latency; every file must succeed

The sequential baseline runs once per N (in the first repeat); for N above --sequential-max
(default 20) it is extrapolated from the measured per-call time of the two largest measured N,
and marked so. `diffcrew --help` and `diffcrew apply --check` on a small patch are timed (median
of 5 each). The last block prints every acceptance criterion of issue 8 with its figure.

Issue 12 (`--max-cost`, about a minute; see bench/costcap.py):

    python bench/fanout.py --max-cost [--files 6] [--cap-repeat 5]

measures the uncapped cost C of the first --files count, then runs it with --max-cost 3C
(--cap-repeat times: each must finish) and below its needs (each must exit 3, never over the cap),
instead of the timing runs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.server import FakeMessagesServer  # noqa: E402

IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
JITTER = (0.2, 2.0)
CLI_LIMIT = 0.3            # seconds, `diffcrew --help` and `diffcrew apply --check`
CACHE_SHARE_GOAL = 0.60    # for N >= 4
OUTSIDE_RUN, OUTSIDE_FILE = 0.3, 0.025   # floor + 0.3 s per run + 25 ms per file
RATE_LIMIT_FACTOR = 1.5


def module_text(i: int) -> str:
    body = "\n\n".join(f"def handler_{i}_{k}(event):\n    total = 0\n    for item in event['items']:\n"
                       f"        total += item * {k + 1}\n    return total\n" for k in range(40))
    return f'"""Module {i}."""\n\nimport logging\n\nlog = logging.getLogger(__name__)\n\n\n{body}'


def make_repo(root: Path, files: int) -> dict[str, str]:
    texts = {f"svc/mod_{i}.py": module_text(i) for i in range(files)}
    for path, text in texts.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    env = {**os.environ, **IDENTITY}
    for args in (["init", "-q", "-b", "main"], ["add", "--all"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return texts


def script_for(texts: dict[str, str]) -> dict:
    edits = [{"path": p, "action": "modify", "instructions": "Log each event at debug level in handler 0."}
             for p in texts]
    turns = {"orchestrator": [{"tool": "plan_edits", "input": {"summary": "Add debug logging.", "edits": edits}}],
             "review": [{"tool": "approve_change", "input": {"note": "Every handler logs its events."}}],
             "synthesizer": [{"tool": "write_summary", "input": {"title": "Add debug logging", "body": "Bench."}}]}
    for path, text in texts.items():
        new = text.replace("    total = 0\n", "    log.debug('event %s', event)\n    total = 0\n", 1)
        diff = "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))
        turns[f"worker:{path}"] = [{"tool": "submit_patch", "input": {"patch": diff}}]
    return turns


# --- one run ------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One `diffcrew run` as the bench saw it."""

    wall: float
    code: int
    report: dict | None
    stderr: str
    max_rss_kb: int
    started: float                      # time.monotonic() at spawn (the server's clock)
    requests: list = field(default_factory=list)
    peak: int = 0
    latencies: list[float] = field(default_factory=list)   # drawn latencies, in draw order (jitter)

    @property
    def failed_files(self) -> list[str]:
        if self.report is None:
            return ["(no report)"]
        return [f["path"] for f in self.report.get("files", []) if f.get("status") != "ok"]

    def worker_usage(self) -> dict:
        return ((self.report or {}).get("usage") or {}).get("worker") or {}

    def review_share(self) -> float | None:
        """The review's share of the run's cost, priced from the report's usage of the `review` role."""
        from diffcrew.agent.config import DEFAULT_ORCHESTRATOR_MODEL
        from diffcrew.agent.pricing import cost_of
        from diffcrew.agent.types import Usage

        usage = ((self.report or {}).get("usage") or {}).get("review")
        total = (self.report or {}).get("cost_usd")
        review = cost_of(DEFAULT_ORCHESTRATOR_MODEL, Usage(**usage)) if usage else None
        return None if review is None or not total else review / total


def spawn(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str, str, int, float]:
    """Run `cmd`; (wall, exit code, stdout, stderr, max RSS in KiB of that child, start on the monotonic clock)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda n=name, s=stream: out.__setitem__(n, s.read()))
               for name, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    return (wall, proc.returncode, out["out"].decode("utf-8", "replace"), out["err"].decode("utf-8", "replace"),
            usage.ru_maxrss, started)


def timed_run(repo: Path, server: FakeMessagesServer, max_workers: int, branch: str, *flags: str) -> Run:
    server.requests.clear()
    server.peak_in_flight = 0
    server.cache_entries.clear()  # each run starts cold: the prompts of the run before must not be read
    env = {**os.environ, **server.env()}
    wall, code, stdout, stderr, rss, started = spawn(
        ["diffcrew", "run", "--repo", str(repo), "--yes", "--json", "--branch", branch,
         "--max-workers", str(max_workers), *flags, "add debug logging"], env)
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    return Run(wall, code, report, stderr, rss, started, list(server.requests), server.peak_in_flight)


def checked(run: Run, what: str) -> Run:
    if run.code != 0 or run.report is None:
        raise SystemExit(f"diffcrew run failed ({what}, exit {run.code}): {run.stderr or run.report}")
    return run


def import_floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
    return time.perf_counter() - started


class Jitter:
    """A seeded latency callable for the fake server that remembers what it drew, in draw order."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.drawn: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            value = self._rng.uniform(*JITTER)
            self.drawn.append(value)
            return value


# --- figures from the recorded requests ----------------------------------------------------------------------

def _blocks(body: dict) -> list[dict]:
    system = body.get("system") or []
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    return blocks


def _chars(block: dict) -> int:
    if block.get("type") == "text":
        return len(block.get("text", ""))
    return len(json.dumps({k: v for k, v in block.items() if k != "cache_control"}, ensure_ascii=False))


def prompt_split(body: dict) -> tuple[int, int]:
    """(characters up to and including the last cache_control block, all characters) of system + messages."""
    blocks = _blocks(body)
    sizes = [_chars(b) for b in blocks]
    marked = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
    return (sum(sizes[:marked[-1] + 1]) if marked else 0), sum(sizes)


def worker_requests(run: Run) -> list:
    return [r for r in run.requests if r.key and r.key.startswith("worker:") and r.status == 200]


def cache_figures(run: Run) -> tuple[float, int, int]:
    """(cacheable share, cacheable chars, all chars) over the run's answered worker requests."""
    split = [prompt_split(r.body) for r in worker_requests(run)]
    cached, total = sum(c for c, _ in split), sum(t for _, t in split)
    return (cached / total if total else 0.0), cached, total


def prompt_tokens_per_file(run: Run, files: int) -> float:
    """The bench's estimate of whole worker prompts (system + tools + messages, 4 chars a token) per file."""
    chars = sum(len(json.dumps([r.body.get("system"), r.body.get("tools"), r.body.get("messages")],
                               ensure_ascii=False)) for r in worker_requests(run))
    return chars / 4 / files


def phases(run: Run, latency: float) -> dict[str, float] | None:
    """Where the time outside model calls sits, from the server's arrival times (no 429s).

    Each answered request is taken to end at its arrival + its latency: the fixed latency, or for
    the jitter variant the value drawn for it (draws are matched to requests in arrival order;
    two workers admitted at the same instant may swap draws, which moves no phase boundary much)."""
    reqs = [r for r in run.requests if r.status == 200]
    if len(reqs) != len(run.requests):
        return None
    if run.latencies:
        if len(run.latencies) != len(reqs):
            return None
        done = {id(r): r.arrived + d for r, d in zip(sorted(reqs, key=lambda r: r.arrived), run.latencies)}
    else:
        done = {id(r): r.arrived + latency for r in reqs}
    plan = [r for r in reqs if r.key == "orchestrator"]
    workers = sorted((r for r in reqs if r.key and r.key.startswith("worker:")), key=lambda r: r.arrived)
    review = [r for r in reqs if r.key == "review"]
    summary = [r for r in reqs if r.key == "synthesizer"]
    if len(plan) != 1 or len(review) != 1 or len(summary) != 1 or not workers:
        return None
    end = run.started + run.wall
    last_worker_done = max(done[id(r)] for r in workers)
    return {"start->plan": plan[0].arrived - run.started,
            "plan->workers": workers[0].arrived - done[id(plan[0])],
            "worker span": last_worker_done - workers[0].arrived,
            "workers->review": review[0].arrived - last_worker_done,
            "review->summary": summary[0].arrived - done[id(review[0])],
            "summary->exit": end - done[id(summary[0])]}


def phase_line(runs: list[Run], latency: float, span_ideal: str) -> str | None:
    steps = [phases(r, latency) for r in runs]
    steps = [s for s in steps if s]
    if not steps:
        return None
    return ("phases        " + "; ".join(f"{k} {median([s[k] for s in steps]):.2f}" for k in steps[0])
            + f" s (medians; worker span ideal {span_ideal})")


def makespan(durations: list[float], slots: int) -> float:
    """Greedy list schedule in the given order on `slots` slots, no overhead: when the last one ends."""
    free = [0.0] * max(1, slots)
    for d in durations:
        i = min(range(len(free)), key=free.__getitem__)
        free[i] += d
    return max(free)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- CLI start-up ---------------------------------------------------------------------------------------------

def cli_timings(tmp: Path, times: int) -> tuple[list[float], list[float]]:
    """Walls of `diffcrew --help` and of `diffcrew apply --check` on a small patch, interleaved."""
    repo = tmp / "apply-repo"
    repo.mkdir()
    old = "def greet(name):\n    return 'hello ' + name\n\n\ndef main():\n    print(greet('world'))\n"
    new = old.replace("'hello '", "'hello, '")
    (repo / "greet.py").write_text(old)
    env = {**os.environ, **IDENTITY}
    for args in (["init", "-q", "-b", "main"], ["add", "--all"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    patch = tmp / "small.patch"
    patch.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                  "a/greet.py", "b/greet.py")))
    helps, applies = [], []
    for _ in range(times):
        for cmd, into in ((["diffcrew", "--help"], helps),
                          (["diffcrew", "apply", "--check", "--repo", str(repo), str(patch)], applies)):
            wall, code, _, err, _, _ = spawn(cmd, dict(os.environ))
            if code != 0:
                raise SystemExit(f"{' '.join(cmd[:3])} failed ({code}): {err}")
            into.append(wall)
    return helps, applies


# --- main -----------------------------------------------------------------------------------------------------

def file_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--files takes comma-separated counts, not {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--files needs at least one count >= 1")
    return counts


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=file_counts, default=[6], help="file counts, e.g. 1,6,20,50 (default 6)")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jitter", action="store_true", help=f"also run with latency uniform in {list(JITTER)} s")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="K",
                        help="also run with a server that admits K requests at once (429 beyond)")
    parser.add_argument("--sequential-max", type=int, default=20, metavar="N",
                        help="measure the sequential baseline up to N files, extrapolate above (default 20)")
    parser.add_argument("--cli-repeat", type=int, default=5, help="runs of --help and apply --check (default 5)")
    parser.add_argument("--max-cost", action="store_true",
                        help="measure the cost cap instead (bench/costcap.py): 3 x the run's cost, and below its needs")
    parser.add_argument("--cap-repeat", type=int, default=5, help="runs at 3 x the cost with --max-cost (default 5)")
    args = parser.parse_args()
    if args.max_cost:
        import costcap  # the bench's own folder is on sys.path when run as a script

        costcap.main(args)
        return
    counts = sorted(set(args.files))
    workers = args.max_workers

    fixed: dict[int, list[Run]] = {n: [] for n in counts}
    jitter: dict[int, list[Run]] = {n: [] for n in counts}
    limited: dict[int, list[Run]] = {n: [] for n in counts}
    sequential: dict[int, float] = {}
    floors: list[float] = []
    bench_started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="diffcrew-bench-") as tmp, \
            FakeMessagesServer(latency=args.latency) as server, \
            FakeMessagesServer(latency=args.latency) as jitter_server, \
            FakeMessagesServer(latency=args.latency, max_concurrent=args.rate_limit) as limit_server:
        scripts: dict[int, dict] = {}
        repos: dict[int, Path] = {}
        for n in counts:
            repos[n] = Path(tmp) / f"repo-{n}"
            repos[n].mkdir()
            scripts[n] = script_for(make_repo(repos[n], n))
        measure_seq = [n for n in counts if n <= args.sequential_max] or counts[:1]
        for i in range(args.repeat):
            for n in counts:
                floors.append(import_floor())
                server.set_script(scripts[n])
                fixed[n].append(checked(timed_run(repos[n], server, workers, f"bench/parallel-{i}"),
                                        f"N={n} parallel"))
                if args.jitter:
                    draws = Jitter(seed=1000 * n + i)
                    jitter_server.latency = draws
                    jitter_server.set_script(scripts[n])
                    run = checked(timed_run(repos[n], jitter_server, workers, f"bench/jitter-{i}"), f"N={n} jitter")
                    run.latencies = list(draws.drawn)
                    jitter[n].append(run)
                if args.rate_limit:
                    limit_server.set_script(scripts[n])
                    limited[n].append(timed_run(repos[n], limit_server, workers, f"bench/limited-{i}"))
                if i == 0 and n in measure_seq:
                    server.set_script(scripts[n])
                    sequential[n] = checked(timed_run(repos[n], server, 1, f"bench/sequential-{i}"),
                                            f"N={n} sequential").wall
        helps, applies = cli_timings(Path(tmp), args.cli_repeat)
    bench_wall = time.monotonic() - bench_started

    floor = median(floors)
    measured = sorted(sequential)
    per_call = None
    if len(measured) >= 2:
        a, b = measured[-2], measured[-1]
        per_call = (sequential[b] - sequential[a]) / (b - a)
    print(f"# diffcrew fan-out benchmark: files {','.join(map(str, counts))}, latency {args.latency:g} s, "
          f"max-workers {workers}, {args.repeat} interleaved repeat(s); bench took {bench_wall:.0f} s")
    print(f"# floor (python -c 'import anthropic'): median {floor:.2f} s of {len(floors)} "
          f"({min(floors):.2f}-{max(floors):.2f})")
    results: dict[int, dict[str, Any]] = {}
    for n in counts:
        runs = fixed[n]
        wall = median([r.wall for r in runs])
        rounds = math.ceil(n / workers)
        ideal = (3 + rounds) * args.latency
        goal = 1.15 * ideal + floor
        peak = max(r.peak for r in runs)
        if n in sequential:
            seq, seq_note = sequential[n], f"{n + 3} calls in a row"
        elif per_call is not None:
            seq = sequential[measured[-1]] + (n - measured[-1]) * per_call
            seq_note = (f"EXTRAPOLATED from N={measured[-2]},{measured[-1]}: {per_call:.3f} s per call; "
                        f"{n + 3} calls")
        else:
            seq, seq_note = float("nan"), "not measured"
        outside = wall - ideal
        per_file = (wall - ideal - floor) / n
        share, cached_chars, all_chars = cache_figures(runs[-1])
        usage = runs[-1].worker_usage()
        rss = median([r.max_rss_kb for r in runs]) / 1024
        results[n] = {"wall": wall, "ideal": ideal, "goal": goal, "outside": outside, "share": share}
        print()
        print(f"files={n} latency={args.latency:g}s max_workers={workers}")
        print(f"wall          {wall:7.2f} s   ({wall / ideal:.2f} x ideal)")
        print(f"ideal         {ideal:7.2f} s   (plan + {rounds} worker round(s) + review + summary)")
        print(f"sequential    {seq:7.2f} s   ({seq / wall:.2f} x wall; {seq_note})")
        print(f"floor         {floor:7.2f} s   (python -c 'import anthropic')")
        print(f"(medians of {args.repeat} interleaved runs; walls {', '.join(f'{r.wall:.2f}' for r in runs)})")
        print(f"overhead      {outside:7.2f} s   outside model latency ({per_file * 1000:.0f}"
              f" ms per file beyond the floor)")
        print(f"peak in-flight requests: {peak}; worker calls: {usage.get('calls')}")
        shares = [s for s in (r.review_share() for r in runs) if s is not None]
        results[n]["review_share"] = median(shares) if shares else None
        print(f"review        {median(shares) * 100 if shares else float('nan'):6.1f} %   of the run's cost "
              f"(median of {len(shares)}; one review call that approves)")
        print(f"goal wall <= 1.15 x ideal + floor = {goal:.2f} s: {verdict(wall <= goal)}")
        line = phase_line(runs, args.latency, f"{rounds * args.latency:.2f}")
        if line:
            print(line)
        print(f"peak memory   {rss:7.1f} MiB max RSS of diffcrew (median; "
              f"{', '.join(f'{r.max_rss_kb / 1024:.0f}' for r in runs)})")
        print(f"tokens/file   {usage.get('input_tokens', 0) / n:7.0f} in / {usage.get('output_tokens', 0) / n:.0f} out"
              f" (report usage, worker role; fake server counts messages only), whole prompt est. "
              f"{prompt_tokens_per_file(runs[-1], n):.0f} in")
        print(f"cacheable     {share * 100:6.1f} %   of worker prompt chars up to the last cache_control block "
              f"({cached_chars:,} of {all_chars:,} chars, {len(worker_requests(runs[-1]))} worker requests)")

    if args.jitter:
        print()
        print(f"# jitter variant: latency uniform in {JITTER[0]:g}-{JITTER[1]:g} s per call (seeded), "
              f"max-workers {workers}")
        for n in counts:
            runs = jitter[n]
            ideals = [r.latencies[0] + makespan(r.latencies[1:-2], workers) + r.latencies[-2] + r.latencies[-1]
                      for r in runs]
            ratios = [r.wall / ideal for r, ideal in zip(runs, ideals)]
            outs = [r.wall - ideal for r, ideal in zip(runs, ideals)]
            seqs = [sum(r.latencies) for r in runs]
            usage = runs[-1].worker_usage()
            share = cache_figures(runs[-1])[0]
            print(f"files={n:<3} wall {median([r.wall for r in runs]):6.2f} s  ideal {median(ideals):6.2f} s  "
                  f"wall/ideal {median(ratios):.2f}  outside {median(outs):5.2f} s "
                  f"({(median(outs) - floor) * 1000 / n:.0f} ms/file beyond floor)  "
                  f"sum of latencies {median(seqs):6.2f} s  peak in-flight {max(r.peak for r in runs)}  "
                  f"max RSS {median([r.max_rss_kb for r in runs]) / 1024:.0f} MiB  "
                  f"tokens/file {usage.get('input_tokens', 0) / n:.0f}/{usage.get('output_tokens', 0) / n:.0f}  "
                  f"cacheable {share * 100:.1f} %  (walls {', '.join(f'{r.wall:.2f}' for r in runs)})")
            spans = [makespan(r.latencies[1:-1], workers) for r in runs]
            line = phase_line(runs, args.latency, f"{median(spans):.2f}")
            if line:
                print("          " + line)

    if args.rate_limit:
        k = args.rate_limit
        print()
        print(f"# rate-limit variant: the server admits {k} requests at once, 429 (retry-after "
              f"{limit_server.retry_after:g} s) beyond; latency {args.latency:g} s, max-workers {workers}")
        for n in counts:
            runs = limited[n]
            ideal_k = (3 + math.ceil(n / k)) * args.latency
            wall = median([r.wall for r in runs])
            refused = [sum(1 for q in r.requests if q.status == 429) for r in runs]
            failed = sorted({p for r in runs for p in r.failed_files})
            codes = sorted({r.code for r in runs})
            results.setdefault(n, {})["limited"] = {"wall": wall, "ideal": ideal_k, "failed": failed, "codes": codes}
            print(f"files={n:<3} wall {wall:6.2f} s  ideal for {k} {ideal_k:6.2f} s  wall/ideal {wall / ideal_k:.2f}  "
                  f"(wall - floor)/ideal {(wall - floor) / ideal_k:.2f}  "
                  f"429s {','.join(map(str, refused))}  peak in-flight {max(r.peak for r in runs)}  "
                  f"exit codes {codes}  failed files {len(failed)}"
                  f"{' (' + ', '.join(failed[:3]) + ('...' if len(failed) > 3 else '') + ')' if failed else ''}  "
                  f"(walls {', '.join(f'{r.wall:.2f}' for r in runs)})")
            bad = next((r for r in runs if r.code != 0), None)
            if bad is not None:
                errors = (bad.report or {}).get("errors") or [bad.stderr.strip()]
                print(f"          first failure: {str(errors[0])[:300]}")

    help_wall, apply_wall = median(helps), median(applies)
    print()
    print(f"diffcrew --help          {help_wall:5.3f} s  (median of {len(helps)}: "
          f"{', '.join(f'{w:.3f}' for w in helps)})")
    print(f"diffcrew apply --check   {apply_wall:5.3f} s  (median of {len(applies)}: "
          f"{', '.join(f'{w:.3f}' for w in applies)})")

    print()
    print("acceptance (issue 8)")
    rows: list[tuple[str, str, bool | None]] = []
    for n in (6, 20):
        if n in fixed:
            r = results[n]
            rows.append((f"wall <= 1.15 x ideal + floor at N={n}",
                         f"{r['wall']:.2f} s <= {r['goal']:.2f} s", r["wall"] <= r["goal"]))
        else:
            rows.append((f"wall <= 1.15 x ideal + floor at N={n}", "not measured (add to --files)", None))
    for n in counts:
        r = results[n]
        limit = floor + OUTSIDE_RUN + OUTSIDE_FILE * n
        rows.append((f"outside model calls <= floor + 0.3 s + 25 ms/file at N={n}",
                     f"{r['outside']:.2f} s <= {limit:.2f} s ({(r['outside'] - floor - OUTSIDE_RUN) * 1000 / n:.0f} "
                     f"ms/file beyond floor + 0.3 s)", r["outside"] <= limit))
    rows.append(("diffcrew --help <= 0.3 s", f"{help_wall:.3f} s", help_wall <= CLI_LIMIT))
    rows.append(("diffcrew apply --check <= 0.3 s", f"{apply_wall:.3f} s", apply_wall <= CLI_LIMIT))
    big = [n for n in counts if n >= 4]
    for n in big:
        share = results[n]["share"]
        rows.append((f"cacheable share of worker input >= 60% at N={n}", f"{share * 100:.1f} %",
                     share >= CACHE_SHARE_GOAL))
    if not big:
        rows.append(("cacheable share of worker input >= 60% for N >= 4", "not measured (no N >= 4)", None))
    if args.rate_limit:
        for n in counts:
            lim = results[n]["limited"]
            rows.append((f"rate limit {args.rate_limit}: no failed file at N={n}",
                         f"{len(lim['failed'])} failed, exit {lim['codes']}",
                         not lim["failed"] and lim["codes"] == [0]))
            binds = "" if n > args.rate_limit else " (limit never binds)"
            rows.append((f"rate limit {args.rate_limit}: wall <= 1.5 x ideal at N={n}{binds}",
                         f"{lim['wall']:.2f} s <= {RATE_LIMIT_FACTOR * lim['ideal']:.2f} s",
                         lim["wall"] <= RATE_LIMIT_FACTOR * lim["ideal"]))
    else:
        rows.append(("rate-limit variant", "not run (pass --rate-limit 4)", None))
    width = max(len(name) for name, _, _ in rows)
    for name, figure, ok in rows:
        print(f"  {name:<{width}}  {figure:<48}  {'-' if ok is None else verdict(ok)}")
    decided = [ok for _, _, ok in rows if ok is not None]
    print(f"  {sum(decided)} of {len(decided)} measured criteria met")


if __name__ == "__main__":
    main()
