"""Nothing outside the repository is written: a run's throwaway files (tools/scratch.py) live in
`<git-common-dir>/diffcrew/tmp/`, never in the system temp dir, and what a killed process left
there is pruned by the next run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from scenarios import FILES, four_file_script

from diffcrew.tools.errors import UsageError
from diffcrew.tools.git import GitRepo, TreeChange
from diffcrew.tools.statedir import scratch_dir


CHILD = textwrap.dedent("""
    import sys, time
    from diffcrew.tools.scratch import scratch_folder
    with scratch_folder(sys.argv[1]) as folder:
        (folder / "index").write_bytes(b"half-built")
        print(folder, flush=True)
        time.sleep(120)
""")


def test_what_a_killed_process_left_in_the_scratch_folder_is_pruned_by_the_next_run(tmp_path: Path, seam) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    common = repo / ".git"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(common)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    try:
        killed, alive = (Path(child.stdout.readline().strip()) for child in children)  # type: ignore[union-attr]
        children[0].kill()  # SIGKILL: no cleanup runs
        children[0].wait()
        assert killed.is_dir() and killed.parent == scratch_dir(common)
        other_host = scratch_dir(common) / "1_1_another-host_abc"  # a run elsewhere on a shared disk: left alone
        other_host.mkdir()
        seam.set_script(four_file_script())
        result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
        assert result.exit_code == 0, result.output
        assert not killed.exists()
        assert alive.is_dir() and (alive / "index").read_bytes() == b"half-built"  # its owner still runs
        assert other_host.is_dir()
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_a_scratch_folder_that_cannot_be_made_is_one_clear_line(tmp_path: Path, seam) -> None:
    """Root ignores permissions, so a file stands where the folder would go: the same OSError."""
    repo = make_repo(tmp_path / "repo", FILES)
    scratch_dir(repo / ".git").parent.mkdir(parents=True, exist_ok=True)
    scratch_dir(repo / ".git").write_text("not a folder\n")
    with pytest.raises(UsageError, match=r"^cannot write to .*/\.git/diffcrew/tmp \(") as caught:
        GitRepo(repo).build_tree("HEAD", [TreeChange("a.txt", b"a\n")])
    assert "\n" not in caught.value.summary
    seam.set_script(four_file_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "type the greeting"], seam)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write to" in lines[0] and "diffcrew/tmp" in lines[0], result.stderr
    assert seam.requests == []  # refused before any model call
