"""Attacks on the lazy content check (tools/textcheck.py): secret or binary content under ordinary
names, reached through the ranking's passes, the exploration tools, a plan or the cache."""

from __future__ import annotations

import json
import marshal
from pathlib import Path

import pytest
from conftest import git, make_repo

from diffcrew.agent.planrules import plan_problems
from diffcrew.agent.types import FileEdit, Plan
from diffcrew.tools.context import build_context
from diffcrew.tools.ctxcache import ContextCache
from diffcrew.tools.explore import answer_tool
from diffcrew.tools.git import GitRepo
from diffcrew.tools.textcheck import ContentCheck, TextPaths

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
                                    "tab\tname.py": "rare_marker = 1\n", "new\nline.py": "rare_marker = 2\n",
                                    "key\nnotes.txt": f"rare_marker\n{KEY}", "plain.py:2:": f"rare_marker {AWS}\n"})
    allowed = build_context(repo, base, "marker").text_paths
    found = ask(repo, base, allowed, "search_code", pattern="rare_marker")
    assert found.startswith("4 matching") and AWS not in found and "notes.txt" not in found
    assert "ünïcode.py:1:def rare_marker():" in found and "plain.py:1:" in found and "tab\tname.py:1:" in found
    assert "new\nline.py:1:rare_marker = 2" in found


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


# The ranking: what is lifted by a pass is judged before it is used


def history_repo(tmp_path: Path, runbook: str) -> tuple[GitRepo, str]:
    """billing/total.py defines a function ops/runbook.py (text: `runbook`) uses; ops/runbook.py and
    ops/ledger.py changed together in three more commits."""
    files: dict[str, str | bytes] = {
        "billing/total.py": "def apply_discount_rates(items):\n    return items\n",
        "ops/runbook.py": runbook, "ops/ledger.py": "LEDGER = []\n", "docs/readme.md": "hello\n"}
    root = make_repo(tmp_path / "repo", files)
    for n in range(3):
        (root / "ops" / "runbook.py").write_text(f"{runbook}# {n}\n")
        (root / "ops" / "ledger.py").write_text(f"LEDGER = [{n}]\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"change {n}")
    repo = GitRepo(root)
    return repo, repo.resolve("HEAD")


def test_a_secret_file_lifted_by_the_graph_pass_is_no_seed_of_the_history_pass(tmp_path: Path) -> None:
    """ops/runbook.py uses the top file's function (the graph pass lifts it into the top five) and
    holds a key; its co-change partner was lifted with 'changes with runbook.py', naming a file the
    summary hides, on the strength of a file that cannot be shown."""
    repo, base = history_repo(tmp_path, f"RATES = apply_discount_rates([])\nAWS = '{AWS}'\n")
    ctx = build_context(repo, base, "billing total")
    assert ctx.ranked[0].path == "billing/total.py"
    assert "runbook" not in ctx.text and AWS not in ctx.text
    assert all(not r.reasons for r in ctx.ranked if r.path == "ops/ledger.py")


def test_the_same_partner_is_lifted_by_a_readable_seed(tmp_path: Path) -> None:
    """The control: with the key taken out, the history pass does lift the partner."""
    repo, base = history_repo(tmp_path, "RATES = apply_discount_rates([])\n")
    ctx = build_context(repo, base, "billing total")
    ledger = next(r for r in ctx.ranked if r.path == "ops/ledger.py")
    assert "changes with runbook.py" in ledger.reasons


def test_a_denied_file_is_no_seed_of_the_history_pass(tmp_path: Path) -> None:
    repo, base = history_repo(tmp_path, "RATES = apply_discount_rates([])\n")
    ctx = build_context(repo, base, "billing total", deny=("ops/runbook.py",))
    assert "runbook" not in ctx.text and "ops/runbook.py" not in ctx.text_paths


def test_a_secret_reached_only_through_the_graph_pass_is_not_shown(tmp_path: Path) -> None:
    """Never in the lexical top: only the graph pass scores it, after the first judgement."""
    files: dict[str, str | bytes] = {
        "billing/total.py": "def apply_discount_rates(items):\n    return items\n",
        "ops/runbook.py": f"RATES = apply_discount_rates([])\n{KEY}",
        "ops/ratesheet.bin.txt": b"RATES = apply_discount_rates([])\n\0\0\0",
        "ops/latin.py": "RATES = apply_discount_rates([])  # caf\xe9\n".encode("latin-1")}
    repo, base = repo_of(tmp_path, files)
    ctx = build_context(repo, base, "billing total")
    assert [r.path for r in ctx.ranked] == ["billing/total.py"]
    assert BODY not in ctx.text and "\0" not in ctx.text and "ratesheet" not in "".join(ctx.ranked[0].reasons)


def test_a_secret_named_in_the_request_is_not_shown(tmp_path: Path) -> None:
    repo, base = repo_of(tmp_path, {"ops/runbook.py": f"STEPS = 1\n{KEY}", "ops/other.py": "STEPS = 2\n"})
    ctx = build_context(repo, base, "update ops/runbook.py steps")
    assert "ops/runbook.py" not in [r.path for r in ctx.ranked] and BODY not in ctx.text
    assert "- ops/runbook.py" not in ctx.text  # the summary lists files: it names no secret


# The exploration tools


def test_no_tool_reaches_a_secret_through_a_link_a_twin_blob_or_a_line_range(tmp_path: Path) -> None:
    import os

    repo_root = make_repo(tmp_path / "repo", {"ops/runbook.py": f"STEPS = 1\n{KEY}", "ops/copy.txt": f"STEPS = 1\n{KEY}",
                                              "ops/fine.py": "STEPS = 2\n"})
    os.symlink("runbook.py", repo_root / "ops" / "link.py")
    os.symlink("ops/runbook.py", repo_root / "top.py")
    git(repo_root, "add", "-A")
    git(repo_root, "commit", "-q", "-m", "links")
    repo = GitRepo(repo_root)
    base = repo.resolve("HEAD")
    allowed = build_context(repo, base, "steps").text_paths
    for path in ("ops/runbook.py", "ops/copy.txt", "ops/link.py", "top.py", "ops/./runbook.py"):
        for lines in ({}, {"start_line": 2, "end_line": 2}):
            answer = ask(repo, base, allowed, "read_file", path=path, **lines)
            assert BODY not in answer and "STEPS = 1" not in answer, (path, answer)
    assert BODY not in ask(repo, base, allowed, "search_code", pattern="MIIE|STEPS")
    listed = ask(repo, base, allowed, "list_files", path="ops")
    assert "fine.py" in listed and "runbook" not in listed and "copy.txt" not in listed


# A plan: nothing unreadable is offered to a worker, nor deleted whole into the review's diff


@pytest.mark.parametrize("action", ["modify", "delete"])
def test_a_plan_may_not_touch_a_file_whose_content_cannot_be_shown(tmp_path: Path, action: str) -> None:
    files: dict[str, str | bytes] = {"ops/runbook.py": f"STEPS = 1\n{KEY}", "ops/latin.txt": "caf\xe9\n".encode("latin-1"),
                                     "ops/nul.txt": b"a\0b\n", "ops/lock.min.js": f"var k='{AWS}';\n",
                                     "ops/fine.py": "STEPS = 2\n"}
    repo, base = repo_of(tmp_path, files)
    ctx = build_context(repo, base, "steps")
    tree = {e.path: e for e in ctx.files}
    for path in ("ops/runbook.py", "ops/latin.txt", "ops/nul.txt", "ops/lock.min.js"):
        problems = plan_problems(Plan("x", (FileEdit(path, action, "edit it"),)), tree, ctx.text_paths)
        assert problems and "not a UTF-8 text file" in problems[0], (path, problems)
    assert plan_problems(Plan("x", (FileEdit("ops/fine.py", action, "edit it"),)), tree, ctx.text_paths) == []


def test_a_review_amendment_may_not_add_a_file_whose_content_cannot_be_shown(tmp_path: Path) -> None:
    from diffcrew.agent.orchestrator import ReviewInputs, amendment_problems
    from diffcrew.agent.planrules import PlanRules

    repo, base = repo_of(tmp_path, {"ops/runbook.py": f"STEPS = 1\n{KEY}", "ops/fine.py": "STEPS = 2\n",
                                    "ops/other.py": "STEPS = 3\n"})
    ctx = build_context(repo, base, "steps")
    inputs = ReviewInputs("steps", "m", repo, {e.path: e for e in ctx.files}, ctx.text_paths, PlanRules())
    plan = Plan("x", (FileEdit("ops/fine.py", "modify", "edit it"),))
    for action in ("modify", "delete"):
        problems = amendment_problems(plan, Plan("y", (FileEdit("ops/runbook.py", action, "and this"),)), inputs)
        assert problems and problems[0].startswith("ops/runbook.py: not a UTF-8 text file"), problems
    assert amendment_problems(plan, Plan("y", (FileEdit("ops/other.py", "modify", "and this"),)), inputs) == []


def test_a_generated_file_is_patchable_only_when_its_content_may_be_shown(tmp_path: Path) -> None:
    """`linguist-generated` files are no ranking documents, so no pass judges them: only text_paths does."""
    repo, base = repo_of(tmp_path, {".gitattributes": "gen/* linguist-generated\n",
                                    "gen/keys.py": f"STEPS = 1\nAWS = '{AWS}'\n", "gen/table.py": "STEPS = 2\n",
                                    "gen/blob.py": b"STEPS = 3\0\0", "src/steps.py": "STEPS = 4\n"})
    ctx = build_context(repo, base, "steps gen")
    assert "gen/table.py" in ctx.text_paths and not {"gen/keys.py", "gen/blob.py"} & set(ctx.text_paths)
    assert all(not r.path.startswith("gen/") for r in ctx.ranked) and AWS not in ctx.text
    tree = {e.path: e for e in ctx.files}
    assert plan_problems(Plan("x", (FileEdit("gen/keys.py", "modify", "edit it"),)), tree, ctx.text_paths)
    listed = ask(repo, base, ctx.text_paths, "list_files", path="gen")
    assert "table.py" in listed and "keys.py" not in listed and "blob.py" not in listed


def test_text_paths_combine_like_any_set(tmp_path: Path) -> None:
    """`&`, `|`, `-` on an AbstractSet: Set builds the result with cls(items), which a TextPaths
    (candidates, check) cannot take."""
    repo, base = repo_of(tmp_path, {"a.py": "A = 1\n", "b.py": f"{KEY}"})
    paths = build_context(repo, base, "a").text_paths
    assert paths & {"a.py", "b.py"} == {"a.py"} and {"a.py", "b.py"} & paths == {"a.py"}
    assert paths | {"c.py"} == {"a.py", "c.py"} and paths - {"a.py"} == frozenset()


# The cache of verdicts


def test_a_damaged_or_stale_verdict_is_judged_again(tmp_path: Path) -> None:
    repo, base = repo_of(tmp_path, {"a.py": "A = 1\n", "b.py": f"B = 2\n{KEY}"})
    blobs = {e.path: e.blob for e in repo.ls_tree(base)}
    store = ContextCache(repo.common_dir)
    segments = store.root / "blobs"
    segments.mkdir(parents=True)
    # records of the wrong type, a damaged segment, and an earlier format's verdict that says "text"
    (segments / "0-wrong.seg").write_bytes(marshal.dumps({blobs["a.py"]: 1, blobs["b.py"]: ("text",)}))
    (segments / "1-damaged.seg").write_bytes(b"\x00not marshal")
    old = store.root.parent / "v3" / "blobs"
    old.mkdir(parents=True)
    (old / "x.seg").write_bytes(marshal.dumps({blobs["b.py"]: "text"}))
    paths = TextPaths(blobs, ContentCheck(repo.root, ContextCache(repo.common_dir)))
    assert "a.py" in paths and "b.py" not in paths
    assert ContextCache(repo.common_dir).blobs.load()[blobs["b.py"]] == "secret"  # the judged verdict, kept


def test_a_blob_absent_from_the_store_is_never_readable(tmp_path: Path) -> None:
    repo, base = repo_of(tmp_path, {"a.py": "A = 1\n"})
    paths = TextPaths({"a.py": "0" * 40, "b.py": "f" * 40}, ContentCheck(repo.root, ContextCache(repo.common_dir)))
    assert "a.py" not in paths and not set(paths)


# `diffcrew context`: what it shows is what a run would send


def test_context_show_and_json_leave_out_what_the_config_or_environment_denies(tmp_path: Path) -> None:
    from conftest import run_cli

    root = make_repo(tmp_path / "repo", {
        ".diffcrew.toml": 'deny = ["ops/private.py"]\nmax_file_bytes = 200\n',
        "ops/private.py": "PAYROLL = 'private figures'\n", "ops/salaries.py": "PAYROLL = 'salary figures'\n",
        "ops/big.py": "PAYROLL = 'big figures'\n" + "#" * 300 + "\n", "ops/public.py": "PAYROLL = 1\n"})
    args = ["context", "--repo", str(root), "payroll in ops/private.py ops/salaries.py ops/big.py"]
    for env, path, hidden in (({}, "ops/private.py", "private figures"),
                              ({"DIFFCREW_DENY": "ops/salaries.py"}, "ops/salaries.py", "salary figures")):
        shown, report = run_cli([*args, "--show"], env=env), run_cli([*args, "--json"], env=env)
        assert shown.exit_code == 0 and report.exit_code == 0, shown.output + report.output
        assert "PAYROLL = 1" in shown.output  # the context is shown
        for text in (hidden, "big figures"):  # denied; over the config's max_file_bytes
            assert text not in shown.output and text not in report.output, (env, text)
        ranked = [f["path"] for f in json.loads(report.output)["files"]]
        assert "ops/public.py" in ranked and path not in ranked and "ops/big.py" not in ranked


# The cache is only a cache: judging a file while the run is under way never fails on it


def test_a_full_disk_while_a_role_reads_costs_the_cache_not_the_run(tmp_path: Path, seam, monkeypatch) -> None:
    """On a tree whose summary names directories only, a file outside the judged head is judged
    when the planner reads it, after the run has begun and paid: its verdict is written to the
    cache then. A full disk there failed the run with an internal error."""
    import errno

    from conftest import patch_turn, plan_turn, run_cli, summary_turn, udiff

    from diffcrew.tools import context as context_module
    from diffcrew.tools import ctxcache

    files: dict[str, str | bytes] = {f"pkg/module_number_{n:03d}/implementation.py": f"VALUE_{n} = {n}\n"
                                     for n in range(400)}
    old, new = "def load(path):\n    return path\n", "def from_file(path):\n    return path\n"
    repo = make_repo(tmp_path / "repo", {**files, "cfg.py": old})
    full = {"disk": False}
    real_write, real_build = ctxcache.write_atomic, context_module.build_context

    def write_atomic(path: Path, value: object) -> None:
        if full["disk"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, value)

    def build_context(*args, **kwargs):  # the disk fills up once the context is built
        ctx = real_build(*args, **kwargs)
        full["disk"] = True
        return ctx

    monkeypatch.setattr(ctxcache, "write_atomic", write_atomic)
    monkeypatch.setattr("diffcrew.agent.run.build_context", build_context)
    seam.set_script({"orchestrator": [{"tool": "read_file", "input": {"path": "pkg/module_number_399/implementation.py"}},
                                      plan_turn("Rename load.", [("cfg.py", "modify", "Rename load.")])],
                     "worker:cfg.py": [patch_turn(udiff("cfg.py", old, new))], "synthesizer": [summary_turn()]})
    result = run_cli(["run", "--repo", str(repo), "--yes", "rename load"], seam)
    assert result.exit_code == 0, result.output
    asks = [r for r in seam.requests if r.key == "orchestrator"]
    assert "VALUE_399 = 399" in str(asks[1].body["messages"][-1])  # the file was read, judged text


# A partial clone: an absent blob is never fetched, a link's included


def test_reading_a_symlink_in_a_partial_clone_fetches_nothing(tmp_path: Path) -> None:
    """A link's target was read through GitPython's object store, which fetches an absent blob
    from the promisor remote: read_file on a link downloaded it."""
    import os
    import warnings

    source = make_repo(tmp_path / "source", {"app/small.py": "X = 1\n"})
    os.symlink("small.py", source / "app" / "link.py")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "link")
    git(source, "config", "uploadpack.allowFilter", "true")
    git(source, "config", "uploadpack.allowAnySHA1InWant", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-checkout", "--filter=blob:none", f"file://{source}", str(clone))

    def absent() -> set[str]:
        out = git(clone, "rev-list", "--objects", "--no-object-names", "--missing=print", "HEAD^{tree}")
        return {line[1:] for line in out.splitlines() if line.startswith("?")}

    before = absent()
    assert len(before) == 2  # the file's blob and the link's
    repo = GitRepo(clone)
    base = repo.resolve("HEAD")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        allowed = build_context(repo, base, "x").text_paths
    text = ask(repo, base, allowed, "read_file", path="app/link.py")
    assert "partial clone" in text and absent() == before
