"""Shared test helpers: temporary git repositories, repository snapshots, scripts, the CLI."""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))

from fakes.seam import SeamClient  # noqa: E402
from fakes.server import FakeMessagesServer, RecordedRequest  # noqa: E402

from diffcrew.tools.errors import PatchError  # noqa: E402
from diffcrew.tools.patch import PatchRejected, apply_diff  # noqa: E402

IDENTITY = {"GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test User", "GIT_COMMITTER_EMAIL": "test@example.invalid"}


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    # GIT_OPTIONAL_LOCKS=0: the helper's own `git status` must not refresh (rewrite) the index
    # it is comparing, nor fire the user's post-index-change hook.
    out = subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True, check=True,
                         env={**os.environ, **IDENTITY, "GIT_OPTIONAL_LOCKS": "0"})
    return out.stdout.decode("utf-8", "replace")


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository with `files` in one commit on branch main."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.invalid")
    git(root, "config", "commit.gpgsign", "false")
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "initial")
    return root


def snapshot(repo: Path) -> dict[str, Any]:
    """Everything of the user's that diffcrew must never touch: work tree bytes, index, HEAD, refs, stash."""
    tree = {}
    for path in sorted(repo.rglob("*")):
        if ".git" in path.relative_to(repo).parts or not path.is_file():
            continue
        tree[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    gitdir = repo / ".git"
    refs = [line for line in git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
            if not line.startswith("refs/heads/diffcrew/")]
    return {"tree": tree, "index": (gitdir / "index").read_bytes() if (gitdir / "index").exists() else b"",
            "HEAD": (gitdir / "HEAD").read_text(), "head_commit": git(repo, "rev-parse", "HEAD"),
            "refs": refs, "stash": git(repo, "stash", "list"), "status": git(repo, "status", "--porcelain")}


def diffcrew_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/diffcrew/").split()


def udiff(path: str, old: str | None, new: str) -> str:
    """An exact unified diff, as a careful model would write it."""
    before = [] if old is None else old.splitlines(keepends=True)
    lines = difflib.unified_diff(before, new.splitlines(keepends=True),
                                 "/dev/null" if old is None else f"a/{path}", f"b/{path}")
    return "".join(lines)


def plan_turn(summary: str, edits: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {"tool": "plan_edits", "input": {"summary": summary, "edits": [
        {"path": p, "action": a, "instructions": i} for p, a, i in edits]}}


def patch_turn(patch: str) -> dict[str, Any]:
    return {"tool": "submit_patch", "input": {"patch": patch}}


def summary_turn(title: str = "Apply the requested change", body: str = "Body text.") -> dict[str, Any]:
    return {"tool": "write_summary", "input": {"title": title, "body": body}}


@pytest.fixture
def server() -> Iterator[FakeMessagesServer]:
    with FakeMessagesServer() as fake:
        yield fake


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch) -> SeamClient:
    """The fake API in-process, at the model seam: while it is active, every `AnthropicClient` the
    CLI makes (`diffcrew run` builds its client from that name, lazily) is this client instead, so
    `run_cli(args, seam)` runs the real CLI and the real flow with no SDK and no HTTP. For what the
    flow decides; what needs the wire (faults, rate limits, streams, the cache over time,
    subprocesses) keeps the `server` fixture."""
    from diffcrew.agent.llm import anthropic_client

    client = SeamClient()
    monkeypatch.setattr(anthropic_client, "AnthropicClient", lambda **_: client)
    return client


def gather_workers(server: FakeMessagesServer, count: int, total: int, bound: float = 20.0) -> None:
    """Hold each worker request before its answer until `count` are in flight at once, or all `total`
    have arrived (at most `bound` s each): a peak of `count` then shows whether the run sent them
    together, however loaded the machine (a latency alone lets a late one miss the others)."""
    def hold(record: RecordedRequest, stage: str, seconds: float) -> None:
        deadline = time.monotonic() + bound
        while (record.key or "").startswith("worker:") and stage == "first" and time.monotonic() < deadline \
                and server.in_flight < count \
                and len([r for r in server.requests if (r.key or "").startswith("worker:")]) < total:
            time.sleep(0.005)
    server.on_pause = hold


def run_cli(args: list[str], server: FakeMessagesServer | SeamClient | None = None, *,
            env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    """Invoke the real CLI in-process: the SDK talks real HTTP to the fake server, or, with the
    `seam` fixture's client, the flow calls the fake API directly."""
    from diffcrew.agent.cli import main

    full_env: dict[str, str | None] = {"DIFFCREW_REQUEST_TIMEOUT": None}
    if server is not None:
        full_env.update(server.env())
    full_env.update(env or {})
    return CliRunner().invoke(main, args, env=full_env, input=input, catch_exceptions=False)


def patch_refusal(old: str | None, diff: str, path: str = "m.py") -> PatchRejected:
    """The patch engine's refusal of `diff` on `old` (the test fails if it applies, or fails otherwise)."""
    with pytest.raises(PatchError) as info:
        apply_diff(old, diff, path)
    assert isinstance(info.value, PatchRejected)
    return info.value
