"""Co-change and recency (issue 17): the files a change's top file usually changes with are ranked in."""

from __future__ import annotations

from pathlib import Path

from conftest import git, make_repo

from diffcrew.tools.context import build_context
from diffcrew.tools.ctxcache import ContextCache
from diffcrew.tools.git import GitRepo
from diffcrew.tools.history import load_history

FILES: dict[str, str | bytes] = {
    "billing/invoice.py": "def render_invoice(order):\n    return f'{order.id}'\n",
    "billing/registry.py": "HANDLERS = {}\n",
    **{f"misc/mod_{n}.py": f"def helper_{n}(x):\n    return x + {n}\n" for n in range(20)},
}


def commit(root: Path, changes: dict[str, str], message: str) -> None:
    for path, text in changes.items():
        with open(root / path, "a", encoding="utf-8") as handle:
            handle.write(text)
    git(root, "commit", "-q", "-am", message)


def test_a_file_that_changes_with_the_top_file_is_ranked_with_the_reason(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    for n in range(3):
        commit(root, {"billing/invoice.py": f"# v{n}\n", "billing/registry.py": f"# v{n}\n"}, f"step {n}")
    commit(root, {"misc/mod_3.py": "# x\n"}, "unrelated")
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    ctx = build_context(repo, base, "Show the order id in render_invoice")
    by_path = {r.path: r for r in ctx.ranked}
    assert ctx.ranked[0].path == "billing/invoice.py"
    assert "changes with invoice.py" in by_path["billing/registry.py"].reasons
    assert [r.path for r in ctx.ranked[:2]] == ["billing/invoice.py", "billing/registry.py"]


def test_the_history_is_cached_by_commit_id(tmp_path: Path, monkeypatch) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    commit(root, {"billing/invoice.py": "# v\n", "billing/registry.py": "# v\n"}, "together")
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    store = ContextCache(repo.common_dir)
    first = load_history(repo.root, base, store)
    assert first.commits[0] == ("billing/invoice.py", "billing/registry.py")
    monkeypatch.setattr("diffcrew.tools.history.local_git", None)  # a warm load runs no git
    assert load_history(repo.root, base, ContextCache(repo.common_dir)) == first


def test_a_version_bump_finds_the_files_the_last_bumps_changed(tmp_path: Path) -> None:
    files = {**FILES, "billing/__version__.py": "VERSION = '1.0.0'\n"}
    root = make_repo(tmp_path / "repo", files)
    for n in range(1, 4):
        (root / "billing/__version__.py").write_text(f"VERSION = '1.0.{n}'\n")
        git(root, "commit", "-q", "-am", f"v1.0.{n}")
        commit(root, {f"misc/mod_{n}.py": "# x\n"}, f"work on helper {n}")
    repo = GitRepo(root)
    ctx = build_context(repo, repo.resolve("HEAD"), "v1.0.4")
    assert ctx.ranked[0].path == "billing/__version__.py"
    assert "changed by a like request" in ctx.ranked[0].reasons
