"""`{files}` in a check command can never be read as an option (issue 13, item 1)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from conftest import make_repo

from diffcrew.sandbox.checks import Check, run_checks
from diffcrew.sandbox.workspace import Workspace
from diffcrew.tools.git import GitRepo, TreeChange

ARGV = ("import sys; args = sys.argv[1:]; print(args); "
        "sys.exit(1 if any(a.startswith('-') for a in args) else 0)")


def test_files_expand_to_paths_that_are_not_options(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"app.py": "X = 1\n"})
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    changes = {"--output-file=/tmp/x/y.py": b"Y = 2\n", "app.py": b"X = 2\n", "-k/z.py": b"Z = 3\n"}
    check = Check("argv", f"{shlex.quote(sys.executable)} -c {shlex.quote(ARGV)} {{files}}", 60)
    with Workspace.create(repo, base, "test") as ws:
        ws.write([TreeChange(path, data) for path, data in changes.items()])
        [result] = run_checks([check], ws, repo, base, changes)
    assert result.status == "pass", result.output
    assert "'./--output-file=/tmp/x/y.py'" in result.output and "'app.py'" in result.output and "'./-k/z.py'" in result.output
