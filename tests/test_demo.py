"""`diffcrew demo` runs the whole pipeline with no key and no network, and says the model is scripted."""

from __future__ import annotations

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
    out = subprocess.run(["diffcrew", "demo"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "the model is SCRIPTED" in out.stderr
    assert re.search(r"3 worker\(s\), estimated cost ~\$0\.0\d+ \(before repairs\)", out.stderr)
    assert "inventory/report.py: done after 2 attempt(s)" in out.stderr  # the repair loop, shown
    repo = Path(re.search(r"Sample repository: (\S+)", out.stderr).group(1))
    assert repo.parent == tmp_path
    assert git(repo, "branch", "--list", "diffcrew/demo").strip()
    assert "def from_file(cls, path: str)" in git(repo, "show", "diffcrew/demo:inventory/store.py")
    assert "Store.from_file(path)" in git(repo, "show", "diffcrew/demo:inventory/report.py")
    assert "Store.from_file" in git(repo, "show", "diffcrew/demo:CHANGELOG.md")
    assert "+    def from_file(cls, path: str)" in out.stdout
    shown = re.split(r"^\$ git diff \S+\n", out.stdout, flags=re.MULTILINE)[1].split("\nThe model was scripted")[0]
    checked = parse_back(shown, expected={"inventory/store.py", "inventory/report.py", "CHANGELOG.md"})
    assert [f.path for f in checked.files] == ["CHANGELOG.md", "inventory/report.py", "inventory/store.py"]
    assert checked.stat().rstrip("\n") in out.stdout  # the diffstat above it counts the same diff
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_the_demo_script_passes_the_strict_fake_through_the_real_sdk(tmp_path: Path, server) -> None:
    """The demo's answers come from a script at the model seam; the same script played by the
    strict fake, through the real SDK and the real request building, must be accepted too: a
    request shape the API refuses cannot pass in the demo either."""
    from diffcrew.agent.demo import DEMO_REQUEST, demo_script_text, prepare_demo_repo

    repo = prepare_demo_repo(tmp_path)
    server.set_script(demo_script_text())
    result = run_cli(["run", "--repo", str(repo), "--yes", "--branch", "diffcrew/demo", DEMO_REQUEST], server)
    assert result.exit_code == 0, result.output
    assert server.requests and all(r.status == 200 for r in server.requests)
    assert "def from_file(cls, path: str)" in git(repo, "show", "diffcrew/demo:inventory/store.py")
