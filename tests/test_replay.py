"""`diffcrew replay` re-runs a recorded run from its transcript, with no key and no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff

SECRET = "sk-ant-api03-zyxwvutsrqponmlkjihgfedcba9876543210"
FILES = {f"mod{i}.py": f'KEY_{i} = "{SECRET}"\nvalue = {i}\n\n\ndef get():\n    return value\n' for i in range(5)}


@pytest.mark.slow
def test_replay_reproduces_the_branch_tree_byte_for_byte(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    turns = {"orchestrator": [plan_turn("Double.", [(p, "modify", "double the value") for p in FILES])],
             "synthesizer": [summary_turn("Double the values")]}
    for path, text in FILES.items():
        new = text.replace("value = ", "value = 2 * ")
        bad = udiff(path, text, new).replace(" def get():", " def got():").replace("-value", "-valu")
        # the context line with the secret travels as a token and comes back as one
        turns[f"worker:{path}"] = [patch_turn(bad), patch_turn(udiff(path, text, new))]
    server.set_script(turns)
    server.latency = 0.05
    first = run_cli(["run", "--repo", str(repo), "--yes", "--json", "double"], server)
    assert first.exit_code == 0, first.output
    original = json.loads(first.stdout)
    assert SECRET not in json.dumps([r.body for r in server.requests])

    replayed = run_cli(["replay", original["run_id"][:15], "--repo", str(repo), "--yes", "--json"],
                       env={"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert replayed.exit_code == 0, replayed.output
    again = json.loads(replayed.stdout)
    assert again["branch"] != original["branch"] and again["base"] == original["base"]
    tree = lambda ref: git(repo, "rev-parse", f"{ref}^{{tree}}").strip()  # noqa: E731
    assert tree(again["branch"]) == tree(original["branch"])
    assert SECRET in git(repo, "show", f"{again['branch']}:mod0.py")
    assert [f["attempts"] for f in again["files"]] == [f["attempts"] for f in original["files"]]


def test_replay_of_an_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    result = run_cli(["replay", "20990101", "--repo", str(repo), "--yes"])
    assert result.exit_code == 2 and "no recorded run '20990101'" in result.stderr
