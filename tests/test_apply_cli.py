"""`diffcrew apply`: a sloppy multi-file diff into the working tree, every file or none."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import make_repo, run_cli, snapshot

CODE = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
SLOPPY = """Here is the change:

```diff
--- a/pkg/code.py
+++ b/pkg/code.py
@@ -40,7 +40,7 @@
 def b():
-    return 2
+    return 20
--- /dev/null
+++ b/pkg/new.py
@@ @@
+NEW = True
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
```
Let me know if it works.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"pkg/code.py": CODE, "gone.txt": "bye\n", "crlf.txt": "one\r\ntwo\r\n",
                                         "dup.py": "x = 1\ny = 2\n\nx = 1\ny = 2\n"})


def test_applies_a_sloppy_multi_file_diff(repo: Path) -> None:
    result = run_cli(["apply", "--repo", str(repo), "-"], input=SLOPPY)
    assert result.exit_code == 0, result.output
    assert (repo / "pkg/code.py").read_text() == CODE.replace("return 2", "return 20")
    assert (repo / "pkg/new.py").read_text() == "NEW = True\n"
    assert not (repo / "gone.txt").exists()
    assert "applied: pkg/code.py (modify; exact at line 5)" in result.stdout
    assert "applied: gone.txt (delete" in result.stdout


def test_check_writes_nothing_and_json_reports_tiers(repo: Path) -> None:
    before = snapshot(repo)
    result = run_cli(["apply", "--repo", str(repo), "--check", "--json", "-"], input=SLOPPY)
    assert result.exit_code == 0, result.output
    assert snapshot(repo) == before
    report = json.loads(result.stdout)
    assert report["status"] == "checked"
    assert {f["path"]: f["action"] for f in report["files"]} == {"pkg/code.py": "modify", "pkg/new.py": "create",
                                                                 "gone.txt": "delete"}


def test_one_failing_hunk_means_nothing_is_written(repo: Path, tmp_path: Path) -> None:
    patch = SLOPPY.replace(" def b():\n-    return 2", " def b():\n-    return 3").replace(
        "```\nLet me", "--- a/dup.py\n+++ b/dup.py\n@@ @@\n x = 1\n-y = 2\n+y = 3\n```\nLet me")
    before = snapshot(repo)
    patch_file = tmp_path / "fix.patch"
    patch_file.write_text(patch)
    result = run_cli(["apply", "--repo", str(repo), str(patch_file)])
    assert result.exit_code == 1
    assert snapshot(repo) == before
    reasons = [line for line in result.stderr.splitlines() if line.startswith("diffcrew: refused: ")]
    assert len(reasons) == 2
    assert "pkg/code.py: hunk 1: matches no place" in reasons[0]
    assert "dup.py: hunk 1: matches 2 places (lines 1, 4)" in reasons[1]
    assert "nothing was written" in result.stderr


def test_crlf_and_executable_bit_are_kept(repo: Path) -> None:
    os.chmod(repo / "crlf.txt", 0o755)
    result = run_cli(["apply", "--repo", str(repo), "-"], input="--- a/crlf.txt\n+++ b/crlf.txt\n@@ @@\n one\n-two\n+2\n")
    assert result.exit_code == 0, result.output
    assert (repo / "crlf.txt").read_bytes() == b"one\r\n2\r\n"
    assert os.stat(repo / "crlf.txt").st_mode & 0o777 == 0o755


@pytest.mark.parametrize("path, reason", [("../outside.txt", "not a plain path"), (".git/config", ".git directory"),
                                          ("link/evil.txt", "symbolic link")])
def test_paths_are_confined_to_the_repo(repo: Path, tmp_path: Path, path: str, reason: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    (repo / "link").symlink_to(tmp_path / "elsewhere")
    before = snapshot(repo)
    result = run_cli(["apply", "--repo", str(repo), "-"], input=f"--- /dev/null\n+++ b/{path}\n@@ @@\n+pwned\n")
    assert result.exit_code == 1
    assert reason in result.stderr
    assert snapshot(repo) == before
    assert not (tmp_path / "outside.txt").exists() and not list((tmp_path / "elsewhere").iterdir())


def test_usage_errors(repo: Path) -> None:
    missing = run_cli(["apply", "--repo", str(repo), str(repo / "nope.patch")])
    assert missing.exit_code == 2 and "patch file not found" in missing.stderr
    prose = run_cli(["apply", "--repo", str(repo), "-"], input="I could not write a diff, sorry.\n")
    assert prose.exit_code == 1 and "refused" in prose.stderr


def test_latin1_bytes_in_patch_and_file_are_written_as_is(repo: Path, tmp_path: Path) -> None:
    (repo / "latin.txt").write_bytes(b"caf\xe9\nna\xefve\n")
    patch = tmp_path / "latin.patch"
    patch.write_bytes(b"--- a/latin.txt\n+++ b/latin.txt\n@@ -1,2 +1,3 @@\n caf\xe9\n-na\xefve\n+na\xeff\n+cr\xe8me\n")
    result = run_cli(["apply", "--repo", str(repo), str(patch)])
    assert result.exit_code == 0, result.output
    assert (repo / "latin.txt").read_bytes() == b"caf\xe9\nna\xeff\ncr\xe8me\n"


def test_latin1_patch_creating_a_file_from_stdin(repo: Path) -> None:
    from click.testing import CliRunner

    from diffcrew.agent.cli import main

    diff = b"--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+d\xe9j\xe0 vu\n"
    result = CliRunner().invoke(main, ["apply", "--repo", str(repo), "-"], input=diff, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (repo / "new.txt").read_bytes() == b"d\xe9j\xe0 vu\n"


def test_created_files_get_the_umask_mode(repo: Path) -> None:
    old = os.umask(0o022)
    try:
        result = run_cli(["apply", "--repo", str(repo), "-"], input="--- /dev/null\n+++ b/made/new.txt\n@@ @@\n+hi\n")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert os.stat(repo / "made/new.txt").st_mode & 0o777 == 0o644


def test_path_that_is_not_utf8_is_refused_not_a_crash(repo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "bad.patch"
    patch.write_bytes(b"--- /dev/null\n+++ b/caf\xe9.txt\n@@ @@\n+x\n")
    before = snapshot(repo)
    result = run_cli(["apply", "--repo", str(repo), str(patch)])
    assert result.exit_code == 1 and "not UTF-8" in result.stderr
    assert snapshot(repo) == before


def test_new_file_mode_755_with_hunks_makes_an_executable(repo: Path) -> None:
    diff = ("diff --git a/run.sh b/run.sh\nnew file mode 100755\nindex 0000000..1111111\n"
            "--- /dev/null\n+++ b/run.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo hi\n")
    old = os.umask(0o022)
    try:
        result = run_cli(["apply", "--repo", str(repo), "-"], input=diff)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert (repo / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert os.stat(repo / "run.sh").st_mode & 0o777 == 0o755


@pytest.mark.parametrize("before, new_mode, after", [(0o644, "100755", 0o755), (0o755, "100644", 0o644)])
def test_mode_change_with_hunks_is_honoured(repo: Path, before: int, new_mode: str, after: int) -> None:
    os.chmod(repo / "gone.txt", before)
    diff = (f"diff --git a/gone.txt b/gone.txt\nold mode 100{before:o}\nnew mode {new_mode}\n"
            "--- a/gone.txt\n+++ b/gone.txt\n@@ -1 +1 @@\n-bye\n+hello\n")
    result = run_cli(["apply", "--repo", str(repo), "-"], input=diff)
    assert result.exit_code == 0, result.output
    assert (repo / "gone.txt").read_text() == "hello\n"
    assert os.stat(repo / "gone.txt").st_mode & 0o777 == after


def test_corrupt_binary_creation_is_refused_and_nothing_is_written(repo: Path) -> None:
    # Made-up base85 (its zlib check fails); real git binary patches: tests/tools/test_patch_binary.py.
    diff = ("diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..4ac7f0d\nGIT binary patch\n"
            "literal 12\nTcmZ?wbhEHb6krfw;9vj%08;=0\n\nliteral 0\nHcmV?d00001\n\n")
    before = snapshot(repo)
    result = run_cli(["apply", "--repo", str(repo), "-"], input=SLOPPY.replace("```\nLet me", diff + "```\nLet me"))
    assert result.exit_code == 1 and "binary patch for logo.png not applied" in result.stderr
    assert snapshot(repo) == before
