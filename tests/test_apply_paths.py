"""`diffcrew apply` resolves each header to the one tracked file it can mean (issue 14), or refuses naming the candidates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import git, make_repo, run_cli, snapshot

UTIL = "import os\n\n\ndef helper(x):\n    return x + 1\n\n\ndef other():\n    return os.sep\n"
PATCHED = UTIL.replace("return x + 1", "return x + 2")
HUNK = "@@ -4,2 +4,2 @@\n def helper(x):\n-    return x + 1\n+    return x + 2\n"
X_PY = "value = 'x'\nprint(value)\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"src/util.py": UTIL, "src/x.py": X_PY, "lib/x.py": X_PY,
                                         "README.md": "readme\n"})


def apply(repo: Path, patch: str, *args: str) -> tuple[int, str, str]:
    result = run_cli(["apply", "--repo", str(repo), *args, "-"], input=patch)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def refused(repo: Path, patch: str, *reasons: str) -> str:
    before = snapshot(repo)
    code, _, err = apply(repo, patch)
    assert code == 1, err
    assert all(reason in err for reason in reasons), err
    assert snapshot(repo) == before
    return err


@pytest.mark.parametrize("name", ["/app/src/util.py", "/home/u/proj/src/util.py", "util.py", "a/util.py",
                                  "proj.orig/src/util.py"])
def test_a_header_resolves_to_the_one_tracked_file_it_can_mean(repo: Path, name: str) -> None:
    code, out, err = apply(repo, f"--- {name}\n+++ {name}\n{HUNK}")
    assert code == 0, err
    assert (repo / "src/util.py").read_bytes() == PATCHED.encode()
    assert f"resolved {name.removeprefix('a/')} to src/util.py, the only tracked file it can mean" in out


def test_an_exact_tracked_path_wins_over_a_suffix(repo: Path) -> None:
    (repo / "util.py").write_text(UTIL)
    git(repo, "add", "util.py")
    code, out, err = apply(repo, f"--- a/util.py\n+++ b/util.py\n{HUNK}")
    assert code == 0, err
    assert (repo / "util.py").read_text() == PATCHED and (repo / "src/util.py").read_text() == UTIL
    assert "resolved" not in out


def test_an_absolute_path_resolves_to_the_longest_tracked_suffix(repo: Path) -> None:
    (repo / "x.py").write_text("other\n")
    git(repo, "add", "x.py")
    code, out, err = apply(repo, "--- /app/src/x.py\n+++ /app/src/x.py\n@@ @@\n-value = 'x'\n+value = 'y'\n")
    assert code == 0, err
    assert (repo / "src/x.py").read_text() == X_PY.replace("'x'", "'y'")
    assert (repo / "lib/x.py").read_text() == X_PY and (repo / "x.py").read_text() == "other\n"


def test_an_ambiguous_bare_name_is_refused_naming_both(repo: Path) -> None:
    refused(repo, "--- x.py\n+++ x.py\n@@ @@\n-value = 'x'\n+value = 'y'\n", "lib/x.py", "src/x.py", "several")


def test_header_less_hunks_go_to_the_one_file_they_fit(repo: Path) -> None:
    code, out, err = apply(repo, HUNK)
    assert code == 0, err
    assert (repo / "src/util.py").read_bytes() == PATCHED.encode()
    assert "header-less hunks to src/util.py" in out


def test_header_less_hunks_that_fit_two_files_are_refused(repo: Path) -> None:
    refused(repo, "@@ @@\n-value = 'x'\n+value = 'y'\n", "lib/x.py, src/x.py", "names no file")


def test_diff_u_of_an_orig_copy_patches_the_tracked_file(repo: Path) -> None:
    (repo / "src/util.py.orig").write_text(UTIL)  # untracked, as `diff -u util.py.orig util.py` leaves it
    patch = f"--- src/util.py.orig\t2024-01-01 10:00:00 +0000\n+++ src/util.py\t2024-01-01 10:01:00 +0000\n{HUNK}"
    code, _, err = apply(repo, patch)
    assert code == 0, err
    assert (repo / "src/util.py").read_text() == PATCHED and (repo / "src/util.py.orig").read_text() == UTIL


def test_two_tree_names_patch_the_one_that_exists(repo: Path) -> None:
    code, _, err = apply(repo, f"--- a/old/src/util.py\n+++ b/new/src/util.py\n{HUNK}")
    assert code == 0, err
    assert (repo / "src/util.py").read_text() == PATCHED
    assert not (repo / "new").exists() and not (repo / "old").exists()


def test_a_rename_with_hunks_moves_the_file_and_keeps_its_mode(repo: Path) -> None:
    os.chmod(repo / "src/util.py", 0o755)
    patch = ("diff --git a/src/util.py b/pkg/helpers.py\nsimilarity index 90%\nrename from src/util.py\n"
             f"rename to pkg/helpers.py\nindex 1111111..2222222 100755\n--- a/src/util.py\n+++ b/pkg/helpers.py\n{HUNK}")
    code, out, err = apply(repo, patch, "--json")
    assert code == 0, err
    assert not (repo / "src/util.py").exists()
    assert (repo / "pkg/helpers.py").read_bytes() == PATCHED.encode()
    assert os.stat(repo / "pkg/helpers.py").st_mode & 0o111
    files = {f["path"]: f for f in json.loads(out)["files"]}
    assert files["pkg/helpers.py"]["action"] == "rename" and files["pkg/helpers.py"]["from"] == "src/util.py"
    assert files["src/util.py"]["action"] == "delete"


def test_a_copy_without_hunks_duplicates_the_file(repo: Path) -> None:
    patch = "diff --git a/src/util.py b/src/util2.py\nsimilarity index 100%\ncopy from src/util.py\ncopy to src/util2.py\n"
    code, out, err = apply(repo, patch)
    assert code == 0, err
    assert (repo / "src/util2.py").read_bytes() == (repo / "src/util.py").read_bytes() == UTIL.encode()
    assert "applied: src/util2.py (copy from src/util.py; whole file)" in out


def test_a_rename_onto_an_existing_file_is_refused(repo: Path) -> None:
    patch = "diff --git a/src/x.py b/lib/x.py\nsimilarity index 100%\nrename from src/x.py\nrename to lib/x.py\n"
    refused(repo, patch, "lib/x.py already exists")


def test_a_mode_only_patch_sets_the_executable_bit(repo: Path) -> None:
    os.chmod(repo / "README.md", 0o644)
    code, out, err = apply(repo, "diff --git a/README.md b/README.md\nold mode 100644\nnew mode 100755\n")
    assert code == 0, err
    assert os.stat(repo / "README.md").st_mode & 0o777 == 0o755
    assert (repo / "README.md").read_text() == "readme\n"
    assert "applied: README.md (modify; mode 100644 -> 100755; whole file)" in out


@pytest.mark.parametrize("name, reason", [("../src/util.py", "'..' parts"), ("/app/.git/config", "must be relative"),
                                          (".git/config", ".git directory"), ("src/../src/util.py", "'..' parts")])
def test_path_safety_still_refuses_after_resolution(repo: Path, name: str, reason: str) -> None:
    refused(repo, f"--- {name}\n+++ {name}\n{HUNK}", reason)


def test_a_new_file_path_is_never_guessed(repo: Path) -> None:
    refused(repo, "--- /dev/null\n+++ /app/src/new.py\n@@ @@\n+NEW = 1\n", "must be relative")
    code, _, err = apply(repo, "--- /dev/null\n+++ b/util.py\n@@ @@\n+NEW = 1\n")
    assert code == 0, err
    assert (repo / "util.py").read_text() == "NEW = 1\n" and (repo / "src/util.py").read_text() == UTIL


def test_outside_git_only_exact_paths_apply(tmp_path: Path) -> None:
    (tmp_path / "plain" / "src").mkdir(parents=True)
    (tmp_path / "plain" / "src" / "util.py").write_text(UTIL)
    code, _, err = apply(tmp_path / "plain", f"--- util.py\n+++ util.py\n{HUNK}")
    assert code == 1 and "util.py" in err
    code, _, err = apply(tmp_path / "plain", f"--- a/src/util.py\n+++ b/src/util.py\n{HUNK}")
    assert code == 0, err
    assert (tmp_path / "plain" / "src" / "util.py").read_text() == PATCHED


def test_a_symbolic_link_is_refused_not_written_as_a_file(repo: Path) -> None:
    patch = ("diff --git a/link b/link\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/link\n"
             "@@ -0,0 +1 @@\n+src/util.py\n\\ No newline at end of file\n")
    refused(repo, patch, "link: a symbolic link")


def test_a_deletion_resolves_too_and_json_says_how(repo: Path) -> None:
    code, out, err = apply(repo, "--- /app/src/x.py\n+++ /dev/null\n@@ @@\n-value = 'x'\n-print(value)\n", "--json")
    assert code == 0, err
    assert not (repo / "src/x.py").exists() and (repo / "lib/x.py").exists()
    (item,) = json.loads(out)["files"]
    assert item["action"] == "delete" and item["resolved"].startswith("resolved /app/src/x.py to src/x.py")


@pytest.mark.parametrize("new", [".git/hooks/pre-commit", "../outside.py"])
def test_a_rename_into_an_unsafe_path_is_refused(repo: Path, new: str) -> None:
    patch = f"diff --git a/src/x.py b/{new}\nsimilarity index 100%\nrename from src/x.py\nrename to {new}\n"
    refused(repo, patch, "not a plain path")
