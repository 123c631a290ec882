"""The commands that look before a run: context, config and doctor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from diffcrew.agent import config as cfg
from diffcrew.agent.cli.group import main
from diffcrew.agent.cli.options import json_option, layered_options, repo_option
from diffcrew.agent.pricing import UNPRICED, money
from diffcrew.tools.errors import DiffcrewError, ExitCode


@main.command("context")
@click.argument("request", required=False, default="")
@repo_option()
@click.option("--base", default="HEAD", show_default=True, help="The commit to read.")
@click.option("--orchestrator-model", "--model", "model", default=cfg.DEFAULT_ORCHESTRATOR_MODEL, show_default=True,
              help="Model whose price is used for the estimate (--model: the old name).")
@click.option("--budget", type=click.IntRange(1_000), default=cfg.DEFAULT_CONTEXT_TOKENS, show_default=True,
              help="Token budget of the context.")
@click.option("--show", is_flag=True, help="Also print the context text exactly as the orchestrator gets it.")
@json_option("Print one JSON object: ranked files, tokens, estimated cost.")
def context_command(request: str, repo: str, base: str, model: str, budget: int, show: bool, as_json: bool) -> None:
    """Show what the orchestrator would see for REQUEST, without calling any model.

    \b
    Example:
      diffcrew context "rename Config.load to Config.from_file" --json

    Ranked files with their scores and why, the token count and the estimated cost of the
    planning call. Secrets, binaries, generated files and what the config's `deny` and
    `max_file_bytes` leave out are left out, as in a run.
    """
    from diffcrew.agent.orchestrator import planning_tokens
    from diffcrew.agent.pricing import PLAN_OUTPUT_ESTIMATE, estimate_cost
    from diffcrew.tools.context import build_context, context_report
    from diffcrew.tools.git import GitRepo
    from diffcrew.tools.statedir import writable_state

    git_repo = GitRepo(Path(repo))
    writable_state(git_repo.common_dir)  # the context cache lives there
    settings, _ = cfg.layered(git_repo.root, {})  # the deny list and size limit a run would use here
    ctx = build_context(git_repo, git_repo.resolve(base), request, budget, deny=settings["deny"],
                        max_file_bytes=settings["max_file_bytes"])
    tokens = planning_tokens(request, ctx)
    cost = estimate_cost(model, tokens, PLAN_OUTPUT_ESTIMATE)
    report = {**context_report(ctx), "planning_input_tokens": tokens, "model": model,
              "estimated_cost": None if cost is None else round(cost, 6)}
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    price = money(cost, UNPRICED, estimate=True)
    click.echo(f"{report['tracked_files']} tracked files at {ctx.base[:12]}; context {ctx.tokens:,} tokens "
               f"(budget {budget:,}); planning call ~{tokens:,} input tokens, {price} with {model}")
    for rank, item in enumerate(report["files"][:30], 1):
        click.echo(f"{rank:3}. {item['score']:8.2f}  {item['path']}  ({'; '.join(item['reasons'])})")
    if show:
        click.echo("\n" + ctx.text)


@main.command("config")
@repo_option()
@json_option("Print the settings as JSON.")
def config_command(repo: str, as_json: bool) -> None:
    """Print the effective settings of `diffcrew run` here, and where each one came from.

    \b
    Example:
      DIFFCREW_MAX_WORKERS=4 diffcrew config

    Precedence: the command line, then DIFFCREW_<NAME> variables, then .diffcrew.toml (or
    [tool.diffcrew] in pyproject.toml), then the defaults.
    """
    from diffcrew.sandbox.settings import load_checks
    from diffcrew.tools.git import GitRepo

    root = GitRepo(Path(repo)).root
    values, sources = cfg.layered(root, {})
    checks = [c.command for c in load_checks(root) if c.command]
    if as_json:
        settings = {name: {"value": list(v) if isinstance(v, tuple) else v, "source": sources[name]}
                    for name, v in values.items()}
        click.echo(json.dumps({"settings": settings, "checks": checks}, indent=2))
        return
    for name, value in values.items():
        shown = ", ".join(value) if isinstance(value, tuple) else value
        click.echo(f"{name:<16} {shown if shown not in (None, '') else '-'}  ({sources[name]})")
    click.echo(f"{'checks':<16} {'; '.join(checks) or '-'}  (built-in syntax check, then these)")


@main.command("doctor")
@repo_option()
@json_option("Print the checks as JSON on stdout.")
def doctor_command(repo: str, as_json: bool) -> None:
    """Check that diffcrew can run here: git, the repository, the key, the versions, and that each
    configured model accepts the requests diffcrew sends it (token counting: it costs nothing).

    \b
    Example:
      diffcrew doctor
      diffcrew doctor --json | jq '.checks[] | select(.ok | not)'

    One line per check; exit 0 when all pass, 1 when any fails.
    """
    from diffcrew.agent.doctor import Check, diagnose
    from diffcrew.agent.llm.anthropic_client import AnthropicClient

    try:  # the settings a run here would use; outside a repository (reported below), the defaults
        options, problem = layered_options("doctor", repo), None
    except DiffcrewError as exc:
        options, problem = cfg.RunOptions("doctor"), exc.summary
    checks = diagnose(Path(repo), options, lambda: AnthropicClient(timeout=30.0))
    if problem and all(c.ok for c in checks if c.name == "repository"):
        checks.insert(2, Check("config", False, problem))
    ok = all(c.ok for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        for check in checks:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red", bold=True)
            click.echo(f"{mark} {check.name:<20} {check.detail}")
    sys.exit(ExitCode.OK if ok else ExitCode.FAILED)
