"""Prompt-cache benchmark: what `--warm-cache` saves on the workers' input, and what it costs in time.

Not a test. The real CLI runs against the loopback fake Messages API server with its prompt-cache
simulation on (tests/fakes/server.py: a prefix up to a `cache_control` block can be read once an
answer that wrote it has begun) and a time to first token, so that an answer begins before it
ends, as a real one does. Per N, interleaved over --repeat runs, with the cache emptied before
each run:

  cold   the default: all workers start at once, so each writes the shared prompt
  warm   --warm-cache: one worker first, the rest once its answer begins

and prints the workers' input tokens (written to the cache, read from it, uncached), the price
of that input at the worker model's prices (agent/pricing.py), the ratio warm / cold, and the
wall times (the expected extra for warm is about one time to first token).

    python bench/cache.py [--files 6,20] [--latency 1.0] [--ttft 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from fanout import FakeMessagesServer, checked, file_counts, make_repo, script_for, timed_run

from diffcrew.agent.config import DEFAULT_WORKER_MODEL
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.types import Usage


def worker_input(run) -> Usage:
    """The workers' input as the fake server billed it (its simulated usage per request)."""
    total = Usage()
    for request in run.requests:
        if request.key and request.key.startswith("worker:") and request.usage:
            u = request.usage
            total += Usage(input_tokens=u.get("input_tokens", 0), cache_read_tokens=u.get("cache_read_input_tokens", 0),
                           cache_write_tokens=u.get("cache_creation_input_tokens", 0), calls=1)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=file_counts, default=[6, 20], help="comma-separated file counts (default 6,20)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per call (default 1.0)")
    parser.add_argument("--ttft", type=float, default=0.2, help="seconds before an answer begins (default 0.2)")
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"# prompt cache, simulated: latency {args.latency:g} s, time to first token {args.ttft:g} s, "
          f"max-workers {args.max_workers}, worker model {DEFAULT_WORKER_MODEL}")
    with tempfile.TemporaryDirectory(prefix="diffcrew-cache-bench-") as tmp, \
            FakeMessagesServer(latency=args.latency, ttft=args.ttft, simulate_cache=True) as server:
        for n in sorted(set(args.files)):
            repo = Path(tmp) / f"repo{n}"
            repo.mkdir()
            script = script_for(make_repo(repo, n))
            runs: dict[str, list] = {"cold": [], "warm": []}
            for i in range(args.repeat):
                for mode, flags in (("cold", ()), ("warm", ("--warm-cache",))):
                    server.set_script(script)
                    server.cache_entries.clear()
                    run = timed_run(repo, server, args.max_workers, f"bench/{mode}-{n}-{i}", *flags)
                    runs[mode].append(checked(run, f"{mode}, {n} files"))
            print(f"\nfiles={n}")
            costs = {}
            for mode, done in runs.items():
                usage = worker_input(done[-1])  # the same every run: the simulation is deterministic
                costs[mode] = cost_of(DEFAULT_WORKER_MODEL, usage) or 0.0
                wall = statistics.median(r.wall for r in done)
                print(f"  {mode}  wall {wall:6.2f} s   worker input: {usage.cache_write_tokens:>8,} written  "
                      f"{usage.cache_read_tokens:>8,} read  {usage.input_tokens:>7,} uncached   "
                      f"${costs[mode]:.4f}  (walls {', '.join(f'{r.wall:.2f}' for r in done)})")
            cold_wall = statistics.median(r.wall for r in runs["cold"])
            warm_wall = statistics.median(r.wall for r in runs["warm"])
            print(f"  warm / cold: worker input cost {costs['warm'] / costs['cold']:.2f}x "
                  f"(saves ${costs['cold'] - costs['warm']:.4f} a run), wall {warm_wall - cold_wall:+.2f} s "
                  f"(time to first token {args.ttft:g} s)")


if __name__ == "__main__":
    main()
