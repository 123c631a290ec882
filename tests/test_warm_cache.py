"""--warm-cache: one worker goes first, and the others start once its answer has begun, so that
they read the shared prompt from the cache instead of each paying to write it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_repo, run_cli
from scenarios import doubling_script

BIG = {f"m{i}.py": f"value = {i}\n" + "".join(f"\n\ndef helper_{i}_{j}(x):\n    return x * {j} + {i}\n"
                                                for j in range(150)) for i in range(4)}
SMALL = {f"s{i}.py": f"value = {i}\n" for i in range(4)}


def worker_arrivals(server) -> dict[str, float]:
    return {r.key: r.arrived for r in server.requests if r.key and r.key.startswith("worker:")}


def run(tmp_path: Path, server, files: dict[str, str], *flags: str) -> dict[str, float]:
    repo = make_repo(tmp_path / "repo", files)
    server.set_script(doubling_script(files))
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", *flags, "double the value in m0.py, m1.py, m2.py and m3.py"], server)
    assert result.exit_code == 0, result.output
    assert all(f["status"] == "ok" for f in json.loads(result.stdout)["files"])
    return worker_arrivals(server)


def test_with_warm_cache_the_others_wait_for_the_lead(tmp_path: Path, server) -> None:
    server.latency = 0.5  # the fake sends nothing before the whole latency: the lead's answer begins at its end
    arrived = run(tmp_path, server, BIG, "--warm-cache")
    lead = arrived.pop("worker:m0.py")
    assert all(t - lead >= 0.45 for t in arrived.values()), (lead, arrived)
    assert max(arrived.values()) - min(arrived.values()) < 0.4  # and then all together


def test_without_it_all_workers_start_together(tmp_path: Path, server) -> None:
    server.latency = 0.5
    arrived = run(tmp_path, server, BIG)
    assert max(arrived.values()) - min(arrived.values()) < 0.4


def test_a_prompt_too_short_to_cache_is_not_worth_the_wait(tmp_path: Path, server) -> None:
    server.latency = 0.5
    arrived = run(tmp_path, server, SMALL, "--warm-cache")
    assert max(arrived.values()) - min(arrived.values()) < 0.4


def worker_cache(server) -> tuple[list[int], list[int]]:
    workers = [r for r in server.requests if r.key and r.key.startswith("worker:")]
    return ([r.usage["cache_creation_input_tokens"] for r in workers],
            [r.usage["cache_read_input_tokens"] for r in workers])


def test_the_shared_prompt_is_written_once_and_read_by_the_others(tmp_path: Path, server) -> None:
    """With the fake server's cache simulation and a time to first token: the others start as soon
    as the lead's answer begins, not when it ends, and read what it wrote."""
    server.latency, server.ttft, server.simulate_cache = 0.8, 0.1, True
    arrived = run(tmp_path / "warm", server, BIG, "--warm-cache")
    lead = arrived.pop("worker:m0.py")
    assert all(0.08 <= t - lead < 0.6 for t in arrived.values()), (lead, arrived)
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
