"""Content judged when it is needed: the listing reads no blob, the head of the ranking, the
summary's file list, a role's reads and searches and a plan's files are judged (text, no secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_repo

from diffcrew.tools import ctxcache
from diffcrew.tools.context import JUDGED, build_context
from diffcrew.tools.ctxcache import ContextCache
from diffcrew.tools.explore import answer_tool
from diffcrew.tools.git import GitRepo
from diffcrew.tools.textcheck import ContentCheck, TextPaths, readable

SECRET = "sk-live-DO-NOT-LEAK-4242"
KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{SECRET}\n-----END RSA PRIVATE KEY-----\n"


def unreadable_files() -> dict[str, str | bytes]:
    """Files whose names pass every path rule but whose content cannot be shown."""
    return {
        "billing/legacy.py": "def compute_total():\n    return 'caf\xe9'\n".encode("latin-1"),  # not UTF-8
        "billing/settings.py": f"compute_total = 1\nKEY = '''{KEY}'''\n",  # a pasted key
        "billing/table.py": b"compute_total\0\0\0compute_total",  # NUL bytes, no binary name
    }


@pytest.fixture()
def counted(monkeypatch) -> list[list[str]]:
    """Each batch of blobs the content check reads."""
    batches: list[list[str]] = []

    def read_blobs(root: Path, blobs: list[str]):
        batches.append(list(blobs))
        return ctxcache.read_blobs(root, blobs)

    monkeypatch.setattr("diffcrew.tools.textcheck.read_blobs", read_blobs)
    return batches


def test_a_large_tree_is_indexed_without_reading_its_blobs(tmp_path: Path, counted, monkeypatch) -> None:
    files: dict[str, str | bytes] = {f"pkg/feature_{n:03d}/implementation_{n:03d}.py": f"def helper_{n}(x):\n"
                                     f"    return x + {n}\n" for n in range(600)}
    files["pkg/billing.py"] = "def compute_total(items):\n    return sum(items)\n"
    listing_reads: list[str] = []
    monkeypatch.setattr("diffcrew.tools.listing.read_blobs",
                        lambda root, blobs: listing_reads.extend(blobs) or ctxcache.read_blobs(root, blobs))
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    ctx = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    assert ctx.ranked[0].path == "pkg/billing.py"
    assert not listing_reads  # the index: paths, modes and sizes only
    judged = [blob for batch in counted for blob in batch]
    assert 0 < len(judged) <= JUDGED < len(files)  # only the head of the ranking was judged
    assert len(ctx.ranked) == JUDGED


def test_content_that_cannot_be_shown_is_dropped_where_it_would_rank(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"billing/total.py": "def compute_total(items):\n    return sum(items)\n",
                                     **unreadable_files()}
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    ctx = build_context(repo, repo.resolve("HEAD"), "Rename compute_total")
    assert [r.path for r in ctx.ranked] == ["billing/total.py"]
    for path in unreadable_files():
        assert path not in ctx.text_paths
    assert "- billing/table.py" in ctx.text and "- billing/settings.py" not in ctx.text  # listed unless secret
    assert SECRET not in ctx.text and "billing/total.py" in ctx.text_paths
    assert set(ctx.text_paths) == {"billing/total.py"} and len(ctx.text_paths) == 1


def test_the_summary_names_no_file_whose_content_is_secret(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"src/app.py": "print('hello')\n", "notes/meeting.txt": KEY}
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    ctx = build_context(repo, repo.resolve("HEAD"), "print a greeting")
    assert "src/app.py" in ctx.text and "notes/meeting.txt" not in ctx.text


def test_text_paths_judge_on_ask_once_and_in_one_batch(tmp_path: Path, counted) -> None:
    files: dict[str, str | bytes] = {f"src/m{n}.py": f"X = {n}\n" for n in range(20)}
    files.update(unreadable_files())
    root = make_repo(tmp_path / "repo", files)
    repo = GitRepo(root)
    entries = {e.path: e.blob for e in repo.ls_tree(repo.resolve("HEAD"), [])}
    paths = TextPaths(entries, ContentCheck(root, ContextCache(repo.common_dir)))
    assert "src/m3.py" in paths and "billing/settings.py" not in paths and "no/such.py" not in paths
    assert len(counted) == 2  # one read per new question
    counted.clear()
    assert "src/m3.py" in paths and not counted  # judged once
    assert readable(paths, list(entries)) == {f"src/m{n}.py" for n in range(20)}
    assert len(counted) == 1 and len(counted[0]) == len(files) - 2  # the rest, together
    counted.clear()
    again = TextPaths(entries, ContentCheck(root, ContextCache(repo.common_dir)))
    assert sorted(again) == sorted(f"src/m{n}.py" for n in range(20)) and not counted  # kept in the cache


def test_a_role_cannot_read_list_or_search_what_is_judged_unreadable(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"billing/total.py": "def compute_total(items):\n    return sum(items)\n",
                                     **unreadable_files()}
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    base = repo.resolve("HEAD")
    allowed = build_context(repo, base, "compute_total").text_paths

    def ask(name: str, **input: object) -> str:
        return answer_tool(repo, base, name, dict(input), allowed)[0]

    found = ask("search_code", pattern="compute_total")
    assert "billing/total.py" in found and "settings.py" not in found and "legacy.py" not in found
    listed = ask("list_files", path="billing")
    assert "total.py" in listed and "settings.py" not in listed and "table.py" not in listed
    assert SECRET not in ask("read_file", path="billing/settings.py")
    assert "not readable" in ask("read_file", path="billing/settings.py")
