"""--warm-cache: one worker goes first, and the others start once its answer has begun, so that
they read the shared prompt from the cache instead of each paying to write it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from scenarios import doubling_script

pytestmark = pytest.mark.slow  # the slow tier: runs held for the fake's latency

BIG = {f"m{i}.py": f"value = {i}\n" + "".join(f"\n\ndef helper_{i}_{j}(x):\n    return x * {j} + {i}\n"
                                                for j in range(150)) for i in range(4)}
SMALL = {f"s{i}.py": f"value = {i}\n" for i in range(4)}


def at(server, event: str, key: str) -> int:
    """Where (event, key) happened in the server's order of events."""
    return server.events.index((event, key))


def together(server, keys: set[str]) -> None:
    """Hold each of these requests before its answer until all of them have arrived (at most 20 s):
    if they were sent together, none is answered before the last arrives; if one waited for another,
    the hold runs out and the order shows it."""
    def hold(record, stage: str, seconds: float) -> None:
        deadline = time.monotonic() + 20
        while record.key in keys and stage == "first" and time.monotonic() < deadline \
                and not keys <= {r.key for r in server.requests}:
            time.sleep(0.01)
    server.on_pause = hold


def assert_together(server, keys: set[str]) -> None:
    assert max(at(server, "arrived", k) for k in keys) < min(at(server, "answered", k) for k in keys), server.events


def run(tmp_path: Path, server, files: dict[str, str], *flags: str) -> set[str]:
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(doubling_script(files))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", *flags, "double the value in m0.py, m1.py, m2.py and m3.py"], server)
    assert result.exit_code == 0, result.output
    assert all(f["status"] == "ok" for f in json.loads(result.stdout)["files"])
    return {r.key for r in server.requests if r.key and r.key.startswith("worker:")}


# Were: arrival times within 0.4 s of each other, and >= 0.45 s after the lead. Now the server's
# order of events: who arrived before whose answer began.
OTHERS = {f"worker:m{i}.py" for i in (1, 2, 3)}


def test_with_warm_cache_the_others_wait_for_the_lead(tmp_path: Path, server) -> None:
    server.latency = 0.5  # the fake sends nothing before the whole latency: the lead's answer begins at its end
    together(server, OTHERS)
    run(tmp_path, server, BIG, "--warm-cache")
    assert all(at(server, "arrived", k) > at(server, "answered", "worker:m0.py") for k in OTHERS), server.events
    assert_together(server, OTHERS)  # and then all together


def test_without_it_all_workers_start_together(tmp_path: Path, server) -> None:
    together(server, OTHERS | {"worker:m0.py"})
    assert_together(server, run(tmp_path, server, BIG))


def test_a_prompt_too_short_to_cache_is_not_worth_the_wait(tmp_path: Path, server) -> None:
    workers = {f"worker:s{i}.py" for i in range(4)}
    together(server, workers)
    # claude-sonnet-5 caches prefixes of 1,024 tokens and more: the worker instructions alone are
    # close to Sonnet 5.5's 512, so a model with a higher minimum keeps this prompt clearly short.
    assert run(tmp_path, server, SMALL, "--warm-cache", "--worker-model", "claude-sonnet-5") == workers
    assert_together(server, workers)


def worker_cache(server) -> tuple[list[int], list[int]]:
    workers = [r for r in server.requests if r.key and r.key.startswith("worker:")]
    return ([r.usage["cache_creation_input_tokens"] for r in workers],
            [r.usage["cache_read_input_tokens"] for r in workers])


def test_the_shared_prompt_is_written_once_and_read_by_the_others(tmp_path: Path, server) -> None:
    """With the fake server's cache simulation and a time to first token: the others start as soon
    as the lead's answer begins, not when it ends, and read what it wrote."""
    server.latency, server.ttft, server.simulate_cache = 0.8, 0.1, True
    lead = "worker:m0.py"

    def hold(record, stage: str, seconds: float) -> None:  # the rest of the lead's answer waits for the others
        deadline = time.monotonic() + 20
        while record.key == lead and stage == "rest" and time.monotonic() < deadline \
                and not OTHERS <= {r.key for r in server.requests}:
            time.sleep(0.01)
    server.on_pause = hold
    run(tmp_path / "warm", server, BIG, "--warm-cache")
    begun, done = at(server, "answered", lead), at(server, "done", lead)
    assert all(begun < at(server, "arrived", k) < done for k in OTHERS), server.events  # was: 0.08 <= t - lead < 0.6
    written, read = worker_cache(server)  # in arrival order: the lead first
    shared = written[0]
    assert shared > 1000
    assert written == [shared, 0, 0, 0] and read == [0, shared, shared, shared]


def test_without_it_every_worker_pays_to_write_the_shared_prompt(tmp_path: Path, server) -> None:
    server.latency, server.ttft, server.simulate_cache = 0.8, 0.1, True
    run(tmp_path / "cold", server, BIG)
    written, read = worker_cache(server)
    assert read == [0, 0, 0, 0] and min(written) > 1000


def test_whether_the_shared_prompt_is_worth_warming_depends_on_the_models_caching_minimum() -> None:
    from diffcrew.agent.types import FileEdit, Plan
    from diffcrew.agent.worker import cache_lead, shared_blocks, shared_prompt_tokens

    plan = Plan("Double.", (FileEdit("a.py", "modify", "double it"), FileEdit("b.py", "modify", "double it")))
    shared = shared_blocks("double", plan, "value = 1\n" * 600)
    assert 1024 < shared_prompt_tokens(shared) < 4096
    assert cache_lead(plan, shared, "claude-sonnet-5-5") == "a.py"  # caches from 512 tokens
    assert cache_lead(plan, shared, "claude-haiku-4-5") is None  # from 4,096
