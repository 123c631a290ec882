"""What the pipeline commands print once a run has ended: the plain result, or the JSON report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from diffcrew.agent.cli.group import error_line
from diffcrew.agent.pricing import UNPRICED, money
from diffcrew.tools.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from diffcrew.agent.types import RunReport


def usage_line(report: RunReport) -> str:
    """'N model call(s), I input / O output tokens, cost $C'."""
    total_in = sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in report.usage_by_role.values())
    total_out = sum(u.output_tokens for u in report.usage_by_role.values())
    calls = sum(u.calls for u in report.usage_by_role.values())
    cost = money(report.cost_usd, UNPRICED)
    return f"{calls} model call(s), {total_in:,} input / {total_out:,} output tokens, cost {cost}"


def print_report(report: RunReport) -> None:
    """The dry run's diff, the failure's two lines, or the new branch and how to review it."""
    from diffcrew.agent.view import colour_diffstat

    if report.status == "dry-run":
        click.echo(report.diff, nl=False)
        click.echo(f"diffcrew: dry run, no branch made. {usage_line(report)}", err=True)
        return
    if report.exit_code not in (ExitCode.OK, ExitCode.PARTIAL):
        click.echo(error_line(report.errors[0] if report.errors else report.status), err=True)
        click.echo(f"diffcrew: nothing was changed in your repository. Transcript: {report.transcript}", err=True)
        return
    short = report.base[:12]
    click.echo(click.style(f"Branch {report.branch}", fg="green", bold=True) + f" (commit {(report.commit or '')[:12]},"
               f" on base {short})")
    click.echo(colour_diffstat(report.diffstat))
    click.echo(f"Review:     git diff {short}...{report.branch}")
    click.echo(f"Usage:      {usage_line(report)}")
    click.echo(f"Transcript: {report.transcript}")
    if report.remote:
        click.echo(f"Pushed:     {report.branch} to {report.remote}")
    if report.exit_code == ExitCode.PARTIAL:
        left = ", ".join(r.path for r in report.results if not r.ok)
        click.echo(click.style(f"warning: --allow-partial left out: {left}", fg="yellow"), err=True)


def finish(report: RunReport, as_json: bool, stream_json: bool = False) -> NoReturn:
    """Print the report (JSON, the last line of --stream-json, or plain) and exit with the run's code."""
    if as_json or stream_json:
        click.echo(json.dumps(report.to_dict(), indent=2 if as_json else None, ensure_ascii=False))
    else:
        print_report(report)
    sys.exit(report.exit_code)


def write_pr_body(path: Path, report: RunReport) -> None:
    """The pull-request description of the run, as Markdown."""
    from diffcrew.agent.prbody import render_pr_body

    try:
        path.write_text(render_pr_body(report.to_dict()), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the pull-request body to {path}: {exc.strerror}") from None
