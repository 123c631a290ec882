"""`diffcrew demo` runs the whole pipeline (the review amending the plan included) with no key and no network,
and says the model is scripted."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import git, run_cli
from diffcrew.tools.difftext import parse_back


@pytest.mark.slow
def test_demo_makes_a_branch_with_no_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["TMPDIR"] = str(tmp_path)
    out = subprocess.run(["diffcrew", "demo", "--keep"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "the model is SCRIPTED" in out.stderr
    assert re.search(r"3 worker\(s\) and a review, estimated cost ~\$0\.0\d+ \(before repairs and amendments\)",
                     out.stderr)
    assert "inventory/report.py: done after 2 attempt(s)" in out.stderr  # the repair loop, shown
    # the review amends the plan (a file it adds, a follow-up), the crew works again, and round 2 approves
    assert "  review  round 1: asked for more: Store.from_file has no test" in out.stderr
    assert "    + modify tests/test_store.py: " in out.stderr and "    > create CHANGELOG.md: " in out.stderr
    assert "  worker  tests/test_store.py: done after 1 attempt(s)" in out.stderr
    assert "  review  round 2: approved (The rename is complete" in out.stderr
    assert "warning" not in out.stderr
    repo = Path(re.search(r"Sample repository: (\S+)", out.stderr).group(1))
    assert repo.parent == tmp_path
    assert git(repo, "branch", "--list", "diffcrew/demo").strip()
    assert "def from_file(cls, path: str)" in git(repo, "show", "diffcrew/demo:inventory/store.py")
    assert "Store.from_file(path)" in git(repo, "show", "diffcrew/demo:inventory/report.py")
    assert "Store.from_file" in git(repo, "show", "diffcrew/demo:CHANGELOG.md")
    assert "There is no alias" in git(repo, "show", "diffcrew/demo:CHANGELOG.md")  # the review's follow-up
    assert "def test_from_file_reads_a_csv_file" in git(repo, "show", "diffcrew/demo:tests/test_store.py")
    assert "+    def from_file(cls, path: str)" in out.stdout
    shown = re.split(r"^\$ git diff \S+\n", out.stdout, flags=re.MULTILINE)[1].split("\nThe model was scripted")[0]
    checked = parse_back(shown, expected={"inventory/store.py", "inventory/report.py", "CHANGELOG.md",
                                          "tests/test_store.py"})
    assert [f.path for f in checked.files] == ["CHANGELOG.md", "inventory/report.py", "inventory/store.py",
                                               "tests/test_store.py"]
    assert checked.stat().rstrip("\n") in out.stdout  # the diffstat above it counts the same diff
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_the_demo_script_passes_the_strict_fake_through_the_real_sdk(tmp_path: Path, server) -> None:
    """The demo's answers come from a script at the model seam; the same script played by the
    strict fake, through the real SDK and the real request building, must be accepted too: a
    request shape the API refuses cannot pass in the demo either."""
    from diffcrew.agent.demo import DEMO_REQUEST, DEMO_REVIEW_ROUNDS, demo_script_text, prepare_demo_repo

    repo = prepare_demo_repo(tmp_path)
    server.set_script(demo_script_text())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--branch", "diffcrew/demo", "--review-rounds",
                      str(DEMO_REVIEW_ROUNDS), DEMO_REQUEST], server)
    assert result.exit_code == 0, result.output
    assert server.requests and all(r.status == 200 for r in server.requests)
    assert "def from_file(cls, path: str)" in git(repo, "show", "diffcrew/demo:inventory/store.py")
    # every turn of the script is played: two reviews, the added worker and the follow-up included
    keys = [r.key for r in server.requests]
    assert keys.count("review") == 2 and keys.count("worker:tests/test_store.py") == 1
    assert keys.count("worker:CHANGELOG.md") == 2 and keys[-1] == "synthesizer"
    report = json.loads(result.stdout)
    assert [r["verdict"] for r in report["reviews"]] == ["amended", "approved"]
    assert [(e["path"], e["added"]) for e in report["reviews"][0]["edits"]] == [("tests/test_store.py", True),
                                                                                ("CHANGELOG.md", False)]
