"""Partial clones (issue 17): a blob absent locally is skipped with one note, never fetched, never a crash.

The fixture is a real partial clone: a local repository served over file:// with
`uploadpack.allowFilter`, cloned with `--filter=blob:limit=...` or `--filter=blob:none` and
`--no-checkout` (a checkout would fetch the head's blobs)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import git, make_repo

from diffcrew.tools.context import MissingBlobsWarning, build_context, context_report
from diffcrew.tools.git import GitRepo

BIG = "def big_helper(x):\n" + "".join(f"    x = x + {n}  # padding line {n}\n" for n in range(200))


def partial_clone(tmp_path: Path, spec: str) -> Path:
    files: dict[str, str | bytes] = {
        "app/small.py": "def compute_total(items):\n    return sum(items)\n",
        "app/big.py": BIG,
        "app/other_big.py": BIG.replace("big_helper", "other_helper"),
        "README.md": "# app\n",
    }
    source = make_repo(tmp_path / "source", files)
    git(source, "config", "uploadpack.allowFilter", "true")
    git(source, "config", "uploadpack.allowAnySHA1InWant", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-checkout", f"--filter={spec}", f"file://{source}", str(clone))
    return clone


def absent(clone: Path) -> set[str]:
    out = git(clone, "rev-list", "--objects", "--no-object-names", "--missing=print", "HEAD^{tree}")
    return {line[1:] for line in out.splitlines() if line.startswith("?")}


@pytest.mark.parametrize("spec, skipped", [("blob:limit=1k", 2), ("blob:none", 4)])
def test_absent_blobs_are_skipped_with_one_note_and_never_fetched(tmp_path: Path, spec: str,
                                                                   skipped: int) -> None:
    clone = partial_clone(tmp_path, spec)
    before = absent(clone)
    assert len(before) == skipped  # the fixture really is partial
    repo = GitRepo(clone)
    assert repo.is_partial_clone()
    missing: list[str] = []
    entries = repo.ls_tree(repo.resolve("HEAD"), missing)
    assert len(missing) == skipped and len(entries) == 4 - skipped
    assert all(e.size > 0 for e in entries)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx = build_context(repo, repo.resolve("HEAD"), "Change compute_total and big_helper")
    notes = [w for w in caught if issubclass(w.category, MissingBlobsWarning)]
    assert len(notes) == 1 and f"{skipped} files" in str(notes[0].message)
    assert ctx.notes and f"{skipped} files" in ctx.notes[0] and ctx.notes[0] in ctx.text
    assert context_report(ctx)["notes"] == list(ctx.notes)
    assert {f.path for f in ctx.files} == {e.path for e in entries}
    assert absent(clone) == before  # nothing was fetched, by the cold run or by a warm one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = build_context(repo, repo.resolve("HEAD"), "Change compute_total and big_helper")
    assert again.notes == ctx.notes and absent(clone) == before


def test_a_full_clone_has_no_note(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"a.py": "def f():\n    return 1\n"})
    repo = GitRepo(root)
    assert not repo.is_partial_clone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = build_context(repo, repo.resolve("HEAD"), "change f")
    assert ctx.notes == () and "notes" not in context_report(ctx)
    assert [e.size for e in repo.ls_tree(repo.resolve("HEAD"))] == [len("def f():\n    return 1\n")]


def test_a_search_in_a_partial_clone_says_why_it_cannot_run_and_fetches_nothing(tmp_path: Path) -> None:
    from diffcrew.tools.explore import answer_tool

    clone = partial_clone(tmp_path, "blob:limit=1k")
    missing = absent(clone)
    assert missing  # the two big files' blobs are not here
    repo = GitRepo(clone)
    text, is_error = answer_tool(repo, repo.resolve("HEAD"), "search_code", {"pattern": "helper"},
                                 frozenset({"app/small.py", "README.md"}))
    assert is_error and "partial clone" in text and "read_file" in text
    assert absent(clone) == missing  # nothing was fetched
