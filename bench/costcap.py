"""--max-cost on the fan-out bench (issue 12): the cap is never exceeded, and a budget three times
what the run costs always lets it finish.

Not a test, and not run on its own: `python bench/fanout.py --max-cost [--files 6] [--latency 1.0]
[--max-workers 8] [--cap-repeat 5]` runs it instead of the timing runs, on the first --files count.
The real CLI runs against the loopback fake server, which answers the free token-counting
endpoint too. In order:

  uncapped   one run without a cap: its `--json` report's cost_usd is C
  least      one run without a cap and with --max-workers 1: N, the least the run can cost (the
             workers then each read the shared prompt that the one before wrote to the cache,
             where concurrent workers each pay to write it: C can be several times N)
  3 x C      --cap-repeat runs with --max-cost 3C: every one must finish (exit 0)
  below      one run per cap of 0.25, 0.5, 0.75 and 0.9 x N, below what the run needs however it
             is scheduled: each must exit 3 with a report cost <= its cap and no branch
  no count   one run at 3C with the token-counting endpoint refused (404, as an older server):
             the input is then bounded by its size in bytes; informative, not a criterion

Per capped run it prints the exit code, the cost and its ratio to the cap, the wall, the peak of
requests in flight, the worker calls whose max_tokens the budget lowered, and the token counts.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fanout import FakeMessagesServer, Run, make_repo, median, script_for, timed_run, verdict

from diffcrew.agent.worker import WORKER_MAX_TOKENS

ABOVE = 3.0
BELOW = (0.25, 0.5, 0.75, 0.9)


@dataclass
class Capped:
    """One run under --max-cost, as the bench saw it."""

    share: float  # the cap as a multiple of the uncapped run's cost
    cap: float
    run: Run
    counts: int  # requests to the token-counting endpoint

    @property
    def cost(self) -> float:
        return float((self.run.report or {}).get("cost_usd") or 0.0)

    @property
    def bounded(self) -> list[int]:
        """max_tokens of the worker calls the budget lowered."""
        return [r.body["max_tokens"] for r in self.run.requests if r.key and r.key.startswith("worker:")
                and r.body.get("max_tokens", WORKER_MAX_TOKENS) < WORKER_MAX_TOKENS]

    def line(self) -> str:
        error = ((self.run.report or {}).get("errors") or [""])[0]
        bounded = ", ".join(map(str, sorted(self.bounded))) or "none"
        return (f"cap {self.share:4.2f} x C = ${self.cap:.4f}: exit {self.run.code}, cost ${self.cost:.4f} "
                f"({self.cost / self.cap:.2f} of the cap), wall {self.run.wall:.2f} s, peak in-flight "
                f"{self.run.peak}, bounded worker max_tokens [{bounded}], token counts {self.counts}"
                + (f"\n      {error}" if error else ""))


def capped(repo: Path, server: FakeMessagesServer, workers: int, branch: str, share: float, cost: float) -> Capped:
    server.token_counts.clear()
    cap = round(share * cost, 6)
    run = timed_run(repo, server, workers, branch, "--max-cost", f"{cap:.6f}")
    return Capped(share, cap, run, len(server.token_counts))


def measure(n: int, latency: float, workers: int, repeat: int) -> tuple[Run, float, list[Capped], list[Capped], Capped]:
    """(the uncapped run, N, the runs at 3C, the runs below the needs, the run at 3C without counting)."""
    with tempfile.TemporaryDirectory(prefix="diffcrew-costcap-") as tmp, \
            FakeMessagesServer(latency=latency) as server:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        server.set_script(script_for(make_repo(repo, n)))
        uncapped = timed_run(repo, server, workers, "bench/uncapped")
        if uncapped.code != 0 or uncapped.report is None:
            raise SystemExit(f"the uncapped run failed (exit {uncapped.code}): {uncapped.stderr}")
        cost = float(uncapped.report["cost_usd"])
        least = timed_run(repo, server, 1, "bench/least")
        needs = float((least.report or {}).get("cost_usd") or 0.0)
        above = [capped(repo, server, workers, f"bench/above-{i}", ABOVE, cost) for i in range(repeat)]
        below = [capped(repo, server, workers, f"bench/below-{share}", share, needs) for share in BELOW]
        server.count_tokens_status = 404
        blind = capped(repo, server, workers, "bench/no-count", ABOVE, cost)
    return uncapped, needs, above, below, blind


def main(args: argparse.Namespace) -> None:
    n = args.files[0]
    uncapped, needs, above, below, blind = measure(n, args.latency, args.max_workers, args.cap_repeat)
    cost = float((uncapped.report or {})["cost_usd"])
    print(f"# --max-cost on the fan-out bench: files={n} latency={args.latency:g}s max_workers={args.max_workers}")
    print(f"uncapped: cost C = ${cost:.4f}, wall {uncapped.wall:.2f} s, peak in-flight {uncapped.peak}")
    print(f"least (--max-workers 1, uncapped): N = ${needs:.4f} ({needs / cost:.2f} x C)")
    for run in above:
        print("  " + run.line())
    for run in below:
        print("  " + run.line().replace(" x C ", " x N "))
    print("  without token counting (404): " + blind.line())
    finished = [r for r in above if r.run.code == 0]
    capped_runs = [*above, *below, blind]
    worst = max(r.cost / r.cap for r in capped_runs)
    refused = [r for r in below if r.run.code == 3 and not (r.run.report or {}).get("branch")]
    print()
    print("acceptance (issue 12, --max-cost)")
    rows = [(f"a cap of 3 x C always finishes ({len(above)} runs)",
             f"{len(finished)} of {len(above)} exit 0; walls median {median([r.run.wall for r in above]):.2f} s "
             f"vs {uncapped.wall:.2f} s uncapped", len(finished) == len(above)),
            (f"a cap below the needs ({', '.join(f'{s:g}' for s in BELOW)} x N) exits 3, no branch",
             f"{len(refused)} of {len(below)}", len(refused) == len(below)),
            ("the cap is never exceeded (every capped run)", f"highest cost / cap = {worst:.2f}", worst <= 1.0)]
    width = max(len(name) for name, _, _ in rows)
    for name, figure, ok in rows:
        print(f"  {name:<{width}}  {figure:<60}  {verdict(ok)}")
