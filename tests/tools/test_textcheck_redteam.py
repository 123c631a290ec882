"""Attacks on the lazy content check (tools/textcheck.py): secret or binary content under ordinary
names, reached through the ranking's passes, the exploration tools, a plan or the cache."""

from __future__ import annotations

from pathlib import Path

from conftest import make_repo

from diffcrew.tools.context import build_context
from diffcrew.tools.explore import answer_tool
from diffcrew.tools.git import GitRepo

AWS = "AKIAIOSFODNN7EXAMPLX"
BODY = "MIIEowIBAAKCAQEAx7bodyOfTheKeyLine0042"  # one line of a key's body: no redaction rule knows it
KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----\n"


def repo_of(tmp_path: Path, files: dict[str, str | bytes]) -> tuple[GitRepo, str]:
    repo = GitRepo(make_repo(tmp_path / "repo", files))
    return repo, repo.resolve("HEAD")


def ask(repo: GitRepo, base: str, allowed, name: str, **input: object) -> str:
    return answer_tool(repo, base, name, dict(input), allowed)[0]


# search_code: a path is read whole from git grep's output


def test_search_code_takes_a_path_with_a_colon_whole(tmp_path: Path) -> None:
    """`notes:old` holds a key; `notes` is an ordinary readable file. Split at its first ':', the
    match line was taken for one of `notes` and shown."""
    repo, base = repo_of(tmp_path, {"notes": "meeting notes\n", "notes:old": f"aws = '{AWS}'\n{KEY}",
                                    "a:b.py": "def colon_named():\n    pass\n"})
    allowed = build_context(repo, base, "notes").text_paths
    assert "notes" in allowed and "notes:old" not in allowed
    for pattern in ("AKIA", "MIIEow", "EXAMPL"):
        found = ask(repo, base, allowed, "search_code", pattern=pattern)
        assert AWS not in found and BODY not in found and found.startswith("0 matching"), found
    found = ask(repo, base, allowed, "search_code", pattern="colon_named")
    assert "a:b.py:1:def colon_named():" in found  # an ordinary file with a ':' is found, named whole


def test_search_code_finds_files_whose_names_git_would_quote(tmp_path: Path) -> None:
    """Without -z git grep prints `"\\303\\274..."` for a non-ASCII name: its matches were dropped."""
    repo, base = repo_of(tmp_path, {"ünïcode.py": "def rare_marker():\n    pass\n", "plain.py": "rare_marker()\n",
                                    "tab\tname.py": "rare_marker = 1\n"})
    allowed = build_context(repo, base, "marker").text_paths
    found = ask(repo, base, allowed, "search_code", pattern="rare_marker")
    assert found.startswith("3 matching")
    assert "ünïcode.py:1:def rare_marker():" in found and "plain.py:1:" in found and "tab\tname.py:1:" in found


def test_a_run_never_sends_a_key_from_a_colon_named_file(tmp_path: Path, seam) -> None:
    from conftest import patch_turn, plan_turn, run_cli, summary_turn, udiff

    old, new = "def load(path):\n    return path\n", "def from_file(path):\n    return path\n"
    repo = make_repo(tmp_path / "repo", {"cfg.py": old, "cfg": "see cfg.py\n", "cfg:backup": KEY})
    seam.set_script({"orchestrator": [{"tool": "search_code", "input": {"pattern": "MIIE"}},
                                      plan_turn("Rename load.", [("cfg.py", "modify", "Rename load.")])],
                     "worker:cfg.py": [patch_turn(udiff("cfg.py", old, new))], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "rename load"], seam)
    assert result.exit_code == 0, result.output
    assert all(BODY not in str(r.body) for r in seam.requests)
