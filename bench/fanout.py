"""Fan-out benchmark: wall time of `diffcrew run` against the ideal and a sequential baseline.

Not a test. The real CLI runs as a subprocess against the loopback fake Messages API server
with a fixed latency per call; every figure is measured in the same run, so the ratios hold on a
shared, noisy machine:

  ideal       plan + ceil(N / max_workers) worker rounds + summary, in model latency alone
  sequential  the same run with --max-workers 1: N + 2 calls one after another
  floor       a bare `python -c "import anthropic"`: the interpreter start-up every run pays

Goal (pipeline issue): wall <= 1.15 x ideal + floor.

Each figure is the median of --repeat runs (default 3), interleaved, to damp the noise of a
shared machine.

    python bench/fanout.py [--files 6] [--latency 1.0] [--max-workers 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.server import FakeMessagesServer  # noqa: E402

IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}


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
             "synthesizer": [{"tool": "write_summary", "input": {"title": "Add debug logging", "body": "Bench."}}]}
    for path, text in texts.items():
        new = text.replace("    total = 0\n", "    log.debug('event %s', event)\n    total = 0\n", 1)
        diff = "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))
        turns[f"worker:{path}"] = [{"tool": "submit_patch", "input": {"patch": diff}}]
    return turns


def timed_run(repo: Path, server: FakeMessagesServer, max_workers: int, branch: str) -> tuple[float, dict]:
    env = {**os.environ, **server.env()}
    started = time.perf_counter()
    out = subprocess.run(["diffcrew", "run", "--repo", str(repo), "--yes", "--json", "--branch", branch,
                          "--max-workers", str(max_workers), "add debug logging"],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"diffcrew run failed ({out.returncode}): {out.stderr or out.stdout}")
    return wall, json.loads(out.stdout)


def import_floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diffcrew-bench-") as tmp, \
            FakeMessagesServer(latency=args.latency) as server:
        repo = Path(tmp)
        server.set_script(script_for(make_repo(repo, args.files)))
        floors, walls, sequentials, peaks = [], [], [], []
        for i in range(args.repeat):
            floors.append(import_floor())
            wall, report = timed_run(repo, server, args.max_workers, f"bench/parallel-{i}")
            walls.append(wall)
            peaks.append(server.peak_in_flight)
            server.peak_in_flight = 0
            sequentials.append(timed_run(repo, server, 1, f"bench/sequential-{i}")[0])
    floor, wall, sequential = (statistics.median(v) for v in (floors, walls, sequentials))
    peak = max(peaks)
    rounds = math.ceil(args.files / args.max_workers)
    ideal = (2 + rounds) * args.latency
    goal = 1.15 * ideal + floor
    print(f"files={args.files} latency={args.latency:g}s max_workers={args.max_workers}")
    print(f"wall          {wall:7.2f} s   ({wall / ideal:.2f} x ideal)")
    print(f"ideal         {ideal:7.2f} s   (plan + {rounds} worker round(s) + summary)")
    print(f"sequential    {sequential:7.2f} s   ({sequential / wall:.2f} x wall; {args.files + 2} calls in a row)")
    print(f"floor         {floor:7.2f} s   (python -c 'import anthropic')")
    print(f"(medians of {args.repeat} interleaved runs; walls {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"overhead      {wall - ideal:7.2f} s   outside model latency ({(wall - ideal - floor) * 1000 / args.files:.0f}"
          f" ms per file beyond the floor)")
    print(f"peak in-flight requests: {peak}; worker calls: {report['usage']['worker']['calls']}")
    print(f"goal wall <= 1.15 x ideal + floor = {goal:.2f} s: {'met' if wall <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
