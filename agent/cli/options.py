"""Options shared by several commands, each declared once, and the run's settings from their layers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from diffcrew.agent import config as cfg
from diffcrew.tools.errors import UsageError

F = TypeVar("F", bound=Callable[..., object])

REPO_HELP = "The repository (default: the current directory)."


def repo_option(help: str = REPO_HELP) -> Callable[[F], F]:
    """`--repo DIR`: the repository a command works on."""
    return click.option("--repo", default=".", metavar="DIR", help=help)


def json_option(help: str = "Print a machine-readable report on stdout (progress: plain lines on stderr).",
                ) -> Callable[[F], F]:
    """`--json`: the result as JSON on stdout (the parameter is `as_json`)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def stream_json_option(f: F) -> F:
    """`--stream-json`: one JSON object per line on stdout as the run goes, the report last (`stream_json`)."""
    return click.option("--stream-json", "stream_json", is_flag=True,
                        help="Print one JSON object per line on stdout as the run goes (the plan, each worker's "
                             "state, checks, reviews, model calls), the --json report last.")(f)


def yes_option(f: F) -> F:
    """`--yes`/`-y`: never ask before starting the workers."""
    return click.option("--yes", "-y", is_flag=True, help="Never ask before starting the workers.")(f)


def quiet_option(f: F) -> F:
    """`--quiet`/`-q`: print only the result."""
    return click.option("--quiet", "-q", is_flag=True, help="Print only the result.")(f)


def verbose_option(help: str = "Also print every model call (tokens, cost).") -> Callable[[F], F]:
    """`--verbose`/`-v`: also print every model call."""
    return click.option("--verbose", "-v", is_flag=True, help=help)


def one_verbosity(quiet: bool, verbose: bool) -> None:
    """`-q` and `-v` together are refused: they ask for less and for more."""
    if quiet and verbose:
        raise UsageError("-q (print only the result) and -v (print every model call) contradict each other; "
                         "give one")


def progress_options(f: F) -> F:
    """`--json`, `--stream-json`, `--quiet` and `--verbose` of the commands that run the pipeline."""
    return json_option()(stream_json_option(quiet_option(verbose_option()(f))))


def push_option(help: str) -> Callable[[F], F]:
    """`--push [REMOTE]`: push the new branch (REMOTE default origin; the parameter is `push`)."""
    return click.option("--push", "push", is_flag=False, flag_value="origin", default=None, metavar="[REMOTE]",
                        help=help)


def pr_body_option(f: F) -> F:
    """`--pr-body FILE`: write the pull-request description to FILE, `-` for stdout (`pr_body`)."""
    return click.option("--pr-body", "pr_body", metavar="FILE",
                        help="Write a Markdown pull-request description to FILE (- for stdout; the result then "
                             "goes to stderr); checked before the run starts.")(f)


def layered_options(request: str, repo: str, **fixed: Any) -> cfg.RunOptions:
    """RunOptions from the layers: options given on the command line win, then DIFFCREW_* variables,
    then the repository's config file, then the defaults."""
    from diffcrew.tools.git import GitRepo

    context = click.get_current_context()
    given = {name: context.params[name] for name in cfg.SETTINGS if name in context.params
             and context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    if context.params.get("effort"):  # --effort sets every role's effort
        given.update({name: context.params["effort"] for name in cfg.EFFORT_SETTINGS})
    values, _ = cfg.layered(GitRepo(Path(repo)).root, given)
    return cfg.RunOptions(request=request, repo=Path(repo), **fixed, **values)


def complete_runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The shell's completions of RUN: the recorded run ids (with their requests) and `last`."""
    from click.shell_completion import CompletionItem

    from diffcrew.agent.runref import run_names
    from diffcrew.tools.errors import DiffcrewError
    from diffcrew.tools.git import GitRepo

    try:
        names = run_names(GitRepo(Path(ctx.params.get("repo") or ".")), incomplete)
    except DiffcrewError:  # not in a repository: nothing to offer
        return []
    return [CompletionItem(name, help=request) for name, request in names]


def run_argument(f: F) -> F:
    """RUN of the commands on a recorded run: an id, a prefix, the short id, `last` or the branch."""
    return click.argument("run_id", metavar="RUN", shell_complete=complete_runs)(f)


def read_input(name: str, what: str, limit: int) -> bytes:
    """The bytes of a file named on the command line, read once: a regular file, a pipe (`<(cmd)`,
    a FIFO), /dev/stdin, or `-` for stdin. A UsageError names a path that does not exist, is a
    directory or cannot be read (`what`: "patch file", "request file"), and input longer than
    `limit` bytes, of which at most one more byte is read (/dev/zero, `yes |` end there)."""
    if name == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        data = stdin.read(limit + 1) if stdin is not None else sys.stdin.read(limit + 1).encode(
            "utf-8", "surrogateescape")
        return _within(data, limit, what)
    path = Path(name)
    if not path.exists():
        raise UsageError(f"{what} not found: {name}")
    if path.is_dir():
        raise UsageError(f"{what} is a directory: {name}")
    try:
        with path.open("rb") as stream:
            return _within(stream.read(limit + 1), limit, what)
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {name}: {exc.strerror or exc}") from None


def _within(data: bytes, limit: int, what: str) -> bytes:
    if len(data) > limit:
        raise UsageError(f"the {what} is too long: the limit is {limit:,} bytes")
    return data
