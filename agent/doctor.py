"""`diffcrew doctor`: is this machine and this repository ready for `diffcrew run`?

Each check is one line: git, the repository, the credential (which variable, never its value),
the versions, and for every configured model whether the service accepts each request shape
diffcrew sends it. The shapes go to the free token-counting endpoint, which validates a request
as the Messages API does (a forced tool_choice, an effort level or a tool schema the model
refuses is refused there too) without generating anything: the doctor costs nothing.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from diffcrew import prompts
from diffcrew.agent import __version__
from diffcrew.agent.config import RunOptions
from diffcrew.agent.errors import DiffcrewError
from diffcrew.agent.llm.anthropic_client import KEY_VARIABLES
from diffcrew.agent.llm.protocol import ModelRequest, TransientModelError
from diffcrew.agent.orchestrator import PLAN_MAX_TOKENS, PLAN_TOOLS
from diffcrew.agent.synthesizer import SUMMARY_MAX_TOKENS, WRITE_SUMMARY_TOOL
from diffcrew.agent.worker import WORKER_MAX_TOKENS, WORKER_TOOLS, worker_system
from diffcrew.tools import credentials
from diffcrew.tools.redact import mask_url


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class Counter(Protocol):
    async def count_tokens(self, request: ModelRequest) -> int: ...

    async def aclose(self) -> None: ...


def role_requests(options: RunOptions) -> list[ModelRequest]:
    """One request of each shape a run sends, with the configured model and effort of its role."""
    sample = [{"role": "user", "content": [{"type": "text", "text": "diffcrew doctor: a sample request."}]}]

    def system(role: str) -> list[dict[str, Any]]:
        text = worker_system(options.worker_turns) if role == "worker" else prompts.render(role, "system")
        return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]

    return [
        ModelRequest("orchestrator", options.orchestrator_model, system("orchestrator"), sample, PLAN_TOOLS,
                     PLAN_MAX_TOKENS, effort=options.orchestrator_effort),
        ModelRequest("worker", options.worker_model, system("worker"), sample, WORKER_TOOLS,
                     WORKER_MAX_TOKENS, effort=options.worker_effort),
        ModelRequest("synthesizer", options.synthesizer_model, system("synthesizer"), sample, [WRITE_SUMMARY_TOOL],
                     SUMMARY_MAX_TOKENS, effort=options.synthesizer_effort),
    ]


def local_checks(repo: Path, env: dict[str, str]) -> list[Check]:
    """git, the repository, the credential and the versions: everything that needs no network."""
    import anthropic

    checks = [_git(), _repository(repo)]
    found = [name for name in KEY_VARIABLES if env.get(name)]
    checks.append(Check("key", bool(found), f"{found[0]} is set (not shown)" if found else
                        "no API key: export ANTHROPIC_API_KEY=sk-ant-... (or ANTHROPIC_AUTH_TOKEN)"))
    service = mask_url(env.get("ANTHROPIC_BASE_URL", "")) or "https://api.anthropic.com (the default)"
    checks.append(Check("versions", True, f"diffcrew {__version__}, anthropic SDK {anthropic.__version__}, "
                        f"Python {platform.python_version()}; model service {service}"))
    return checks


def _git() -> Check:
    if shutil.which("git") is None:
        return Check("git", False, "git is not on PATH: install git")
    found = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return Check("git", found.returncode == 0, found.stdout.strip() or found.stderr.strip())


def _repository(repo: Path) -> Check:
    from diffcrew.tools.git import GitRepo

    try:
        git_repo = GitRepo(repo)
        head = git_repo.resolve("HEAD")
    except DiffcrewError as exc:
        return Check("repository", False, exc.summary)
    return Check("repository", True, f"{git_repo.root} at {head[:12]}")


async def model_checks(client: Counter, options: RunOptions) -> list[Check]:
    """Each role's request shape sent to token counting, one after another (a few free calls)."""
    checks = []
    try:
        for request in role_requests(options):
            name = f"model {request.role}"
            try:
                tokens = await client.count_tokens(request)
            except TransientModelError as exc:
                checks.append(Check(name, False, f"{request.model}: could not ask: {exc.summary}"))
                continue
            except DiffcrewError as exc:
                checks.append(Check(name, False, f"{request.model} refused diffcrew's {request.role} request: "
                                    f"{exc.summary}"))
                continue
            effort = request.body().get("output_config", {}).get("effort", "the model's default")
            checks.append(Check(name, True, f"{request.model} accepts the {request.role} request "
                                f"(effort {effort}; {tokens:,} input tokens for the bare prompt and tools)"))
    finally:
        await client.aclose()
    return checks


def diagnose(repo: Path, options: RunOptions, make_client: Any, env: dict[str, str] | None = None) -> list[Check]:
    """Every check; the model checks run only when a key is set (they would all fail alike without)."""
    env = {**os.environ, **credentials.held()} if env is None else env
    checks = local_checks(repo, env)
    if not any(c.name == "key" and c.ok for c in checks):
        return checks
    return checks + asyncio.run(model_checks(make_client(), options))
