"""Every diff the real flow emits parses back with unidiff, and every count shown comes from that parse.

Scripted runs through the real CLI on a repository whose files are the hard cases for a diff (names
with spaces and non-ASCII, CRLF, no final newline, lines that look like file headers, a deletion, a
creation). git is the oracle for the counts: `git apply --numstat` of what was printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import git, make_repo, patch_turn, plan_turn, run_cli, summary_turn, udiff
from diffcrew.tools.difftext import CheckedDiff, git_diff, parse_back
from diffcrew.tools.git import GitRepo

BEFORE = {"docs/my notes.txt": "a\nb\n", "café.py": "x = 1\n", "win.txt": "one\r\ntwo\r\n", "nonl.txt": "a\nb",
          "dash.md": "-- x\nkeep\n", "old.txt": "bye\n", "README.md": "# r\n"}
AFTER = {"docs/my notes.txt": "a\nB\n", "café.py": "x = 2\ny = 3\n", "win.txt": "one\r\nTWO\r\n", "nonl.txt": "a\nc",
         "dash.md": "--- x\n+++ y\nkeep\n", "new dir/ünï.txt": "hello\n"}


def tricky_script() -> dict:
    edits = [(p, "modify", "change it") for p in AFTER if p in BEFORE]
    edits += [("new dir/ünï.txt", "create", "greet"), ("old.txt", "delete", "unused")]
    turns: dict = {"orchestrator": [plan_turn("Change the tricky files.", edits)],
                   "synthesizer": [summary_turn("Change the tricky files")]}
    for path, new in AFTER.items():
        turns[f"worker:{path}"] = [patch_turn(udiff(path, BEFORE.get(path), new))]
    turns["worker:nonl.txt"] = [patch_turn("--- a/nonl.txt\n+++ b/nonl.txt\n@@ -1,2 +1,2 @@\n a\n-b\n"
                                           "\\ No newline at end of file\n+c\n\\ No newline at end of file\n")]
    return turns


def git_numstat(repo: Path, diff: str) -> dict[str, tuple[int, int]]:
    """git's own count of a diff's lines, file by file (`git apply --numstat -z`)."""
    out = git(repo, "apply", "--numstat", "-z", input=diff.encode("utf-8"))
    records = [r for r in out.split("\0") if r]
    return {path: (int(added), int(removed)) for added, removed, path in (r.split("\t", 2) for r in records)}


def assert_shown_diff_is_well_formed(repo: Path, diff: str) -> CheckedDiff:
    checked = parse_back(diff, expected=set(AFTER) | {"old.txt"})
    assert {f.path: (f.added, f.removed) for f in checked.files} == git_numstat(repo, diff)
    assert sorted(f.path for f in checked.files) == sorted(set(AFTER) | {"old.txt"})
    return checked


def test_dry_run_prints_a_diff_that_parses_back_with_git_s_counts(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", BEFORE)
    server.set_script(tricky_script())
    printed = run_cli(["run", "--repo", str(repo), "--dry-run", "change the tricky files"], server)
    assert printed.exit_code == 0, printed.output
    stdout = printed.stdout_bytes.decode("utf-8")  # as written: Result.stdout turns CRLF into LF
    assert "+TWO\r\n" in stdout
    assert_shown_diff_is_well_formed(repo, stdout)
    server.set_script(tricky_script())
    as_json = run_cli(["run", "--repo", str(repo), "--dry-run", "--json", "change the tricky files"], server)
    report = json.loads(as_json.stdout)
    assert report["diff"] == stdout  # the JSON carries the same, parsed, text
    checked = assert_shown_diff_is_well_formed(repo, report["diff"])
    assert report["diffstat"] == checked.stat()
    assert " café.py           | 3 ++-" in report["diffstat"].splitlines()  # the real name, not git's quoting


def test_a_committed_run_s_diffstat_report_and_pr_body_come_from_the_parsed_diff(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", BEFORE)
    server.set_script(tricky_script())
    body = tmp_path / "pr.md"
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "--pr-body", str(body), "change the files"],
                     server)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    branch_diff = git_diff(GitRepo(repo), report["base"], report["commit"])
    assert_shown_diff_is_well_formed(repo, branch_diff.text)
    assert report["diffstat"] == branch_diff.stat()
    assert report["diffstat"].splitlines()[-1] == " 7 files changed, 8 insertions(+), 6 deletions(-)"
    assert "```text\n" + report["diffstat"] in body.read_text(encoding="utf-8")
    synthesizer = [r for r in server.requests if r.key == "synthesizer"][0]
    assert report["diffstat"].rstrip("\n") in json.dumps(synthesizer.body, ensure_ascii=False).replace("\\n", "\n")


def test_the_plain_result_shows_the_parsed_counts(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", BEFORE)
    server.set_script(tricky_script())
    result = run_cli(["run", "--repo", str(repo), "--yes", "change the files"], server)
    assert result.exit_code == 0, result.output
    base = git(repo, "rev-parse", "main").strip()
    branch = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/diffcrew/").strip()
    assert git_diff(GitRepo(repo), base, branch).stat().rstrip("\n") in result.stdout


def test_show_prints_well_formed_patches_as_diffs_and_sloppy_ones_only_indented(tmp_path: Path, server) -> None:
    repo = make_repo(tmp_path / "repo", BEFORE)
    script = tricky_script()
    script["worker:docs/my notes.txt"] = [patch_turn("@@ @@\n a\n-b\n+B\n")]  # sloppy: the engine places it
    server.set_script(script)
    result = run_cli(["run", "--repo", str(repo), "--yes", "--json", "change the files"], server)
    assert result.exit_code == 0, result.output
    shown = run_cli(["show", json.loads(result.stdout)["run_id"], "--repo", str(repo)])
    assert shown.exit_code == 0, shown.output
    blocks = re.split(r"^# patch for ", shown.stdout_bytes.decode("utf-8"), flags=re.MULTILINE)[1:]
    assert len(blocks) == len(AFTER)
    for block in blocks:
        heading, _, text = block.partition("\n")
        if heading.startswith("docs/my notes.txt"):
            assert "as the model wrote it (not a well-formed unified diff" in heading
            assert all(line.startswith("    ") for line in text.rstrip("\n").splitlines())
        else:
            path = heading
            assert parse_back(text.rstrip("\n") + "\n", expected={path}).files[0].path == path
