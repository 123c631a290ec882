"""The commands that run the pipeline: run (the model), demo (a scripted model), replay (a transcript)
and retry (a failed run, reusing what it finished).

Heavy modules (GitPython, the anthropic SDK) are imported inside the commands, so `diffcrew --help`
stays fast. Errors are raised and printed by the group's boundary (agent/cli/group.py).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from diffcrew.agent import config as cfg
from diffcrew.agent.cli.group import main
from diffcrew.agent.cli.options import (F, json_option, layered_options, one_verbosity, pr_body_option,
                                        progress_options, push_option, quiet_option, read_input, repo_option,
                                        run_argument, stream_json_option, verbose_option, yes_option)
from diffcrew.agent.cli.output import (STDOUT, check_not_the_repositorys, check_pr_body, finish, print_report,
                                       with_pr_body)
from diffcrew.tools.errors import Interrupted, UsageError, exit_codes_help

if TYPE_CHECKING:
    from diffcrew.agent.llm.protocol import ModelClient
    from diffcrew.agent.retry import Resume
    from diffcrew.agent.types import RunReport
    from diffcrew.agent.view import View


@dataclass(frozen=True)
class RunArgs:
    """Everything `diffcrew run` was given on its command line, as one value."""

    request: str | None
    message_file: str | None
    repo: str
    base: str
    branch: str | None
    orchestrator_model: str
    worker_model: str
    synthesizer_model: str
    effort: str | None
    max_workers: int
    repair_rounds: int
    request_timeout: float
    plan_turns: int
    review_rounds: int
    worker_turns: int
    dry_run: bool
    as_json: bool
    stream_json: bool
    yes: bool
    allow_partial: bool
    checks: tuple[str, ...]
    check_timeout: float
    run_pre_commit: bool
    allow_failing: bool
    allow_paths: tuple[str, ...]
    max_files: int
    max_file_bytes: int
    max_calls: int
    max_cost: float | None
    timeout: float | None
    deny: tuple[str, ...]
    push: str | None
    pr_body: str | None
    warm_cache: bool
    sign: bool | None
    quiet: bool
    verbose: bool

    def fixed(self) -> dict[str, Any]:
        """The options of the run that only the command line sets (no config file, no variable)."""
        return {"base": self.base, "branch": self.branch, "dry_run": self.dry_run, "allow_partial": self.allow_partial,
                "checks": self.checks, "run_pre_commit": self.run_pre_commit, "allow_failing": self.allow_failing,
                "push": self.push, "sign": self.sign}


@main.command("run", epilog=exit_codes_help())
@click.argument("request", required=False)
@click.option("--message-file", "-F", metavar="FILE", help="Read the change request from FILE.")
@repo_option()
@click.option("--base", default="HEAD", show_default=True, help="The commit the change is built on.")
@click.option("--branch", metavar="NAME", help="Branch to create (default: diffcrew/<slug>-<id>); never overwritten.")
@click.option("--orchestrator-model", "--model", "orchestrator_model", default=cfg.DEFAULT_ORCHESTRATOR_MODEL,
              show_default=True, help="Model of the orchestrator, which plans and reviews (--model: the old name).")
@click.option("--worker-model", default=cfg.DEFAULT_WORKER_MODEL, show_default=True, help="Model of the workers.")
@click.option("--synthesizer-model", "--summary-model", "synthesizer_model", default=cfg.DEFAULT_SYNTHESIZER_MODEL,
              show_default=True, help="Model of the synthesizer, which writes the commit message.")
@click.option("--effort", type=click.Choice(cfg.EFFORTS), default=None,
              help="Reasoning effort of every role (default: orchestrator high, workers medium, synthesizer low; "
                   "per role in the config as orchestrator_effort, worker_effort, synthesizer_effort).")
@click.option("--max-workers", type=click.IntRange(1, 64), default=cfg.DEFAULT_MAX_WORKERS, show_default=True,
              help="Workers (model requests) in flight at once.")
@click.option("--repair-rounds", type=click.IntRange(0, 10), default=cfg.DEFAULT_REPAIR_ROUNDS, show_default=True,
              help="Times a worker may fix a patch that does not apply.")
@click.option("--request-timeout", type=click.FloatRange(min=1),
              default=cfg.DEFAULT_REQUEST_TIMEOUT, show_default=True, help="Seconds per model call.")
@click.option("--plan-turns", type=click.IntRange(1, 50), default=cfg.DEFAULT_PLAN_TURNS, show_default=True,
              help="Model turns the orchestrator may spend exploring the repository before it must plan.")
@click.option("--review-rounds", type=click.IntRange(0, 5), default=cfg.DEFAULT_REVIEW_ROUNDS, show_default=True,
              help="Times the orchestrator reviews the combined change and may add or redirect workers (0: no review).")
@click.option("--worker-turns", type=click.IntRange(0, 20), default=cfg.DEFAULT_WORKER_TURNS, show_default=True,
              help="Turns each worker may spend reading and searching the repository before it must submit its "
                   "patch (0: none; its read_file and search_code calls are refused).")
@click.option("--dry-run", is_flag=True, help="Plan, patch and check, print one unified diff, make no branch "
              "(refused with --push).")
@json_option()
@stream_json_option
@yes_option
@click.option("--allow-partial", is_flag=True, help="Commit the files that succeeded even if others failed (exit 4).")
@click.option("--check", "checks", multiple=True, metavar="CMD",
              help="A command that must pass on the result, run in a sandbox worktree ({files}: changed files); "
                   "repeatable, added to [tool.diffcrew] checks.")
@click.option("--check-timeout", type=click.FloatRange(min=1), default=cfg.DEFAULT_CHECK_TIMEOUT, show_default=True,
              help="Seconds each check may run.")
@click.option("--run-pre-commit", is_flag=True, help="Also run the repository's pre-commit hooks on the changed files.")
@click.option("--allow-failing", is_flag=True, help="Commit even if checks still fail (named in the commit message).")
@click.option("--allow-path", "allow_paths", multiple=True, metavar="GLOB",
              help="Let the plan touch this protected path (CI files, workflows, hooks, diffcrew's config) "
                   "or create this git-ignored one; repeatable.")
@click.option("--max-files", type=click.IntRange(1), default=cfg.DEFAULT_MAX_FILES, show_default=True,
              help="Most files one plan may change.")
@click.option("--max-file-bytes", type=click.IntRange(1), default=cfg.DEFAULT_MAX_FILE_BYTES, show_default=True,
              help="Largest file that may be edited.")
@click.option("--max-calls", type=click.IntRange(1), default=cfg.DEFAULT_MAX_CALLS, show_default=True,
              help="Most model calls in one run (exit 3 when reached).")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, metavar="USD",
              help="Hard cap on the run's model cost: calls wait or answer shorter to fit it; "
              "exit 3 once the next call cannot.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, help="Wall-clock limit of the run in seconds "
              "(exit 3 when reached).")
@click.option("--deny", multiple=True, metavar="GLOB",
              help="Never send files matching GLOB to the model (added to the built-in secret rules); repeatable.")
@push_option("Push the new branch to REMOTE (default origin) after the commit; never forced.")
@pr_body_option
@click.option("--warm-cache/--no-warm-cache", default=False, show_default=True,
              help="Start one worker first and the rest once its prompt is read, so that they read the shared "
                   "prompt from the cache instead of each paying to write it (cheaper; slower by one "
                   "time-to-first-token).")
@click.option("--sign/--no-sign", default=None,
              help="Sign the commit as git commit -S would (gpg.format, user.signingkey); default: when "
                   "commit.gpgsign is set. --no-sign commits unsigned.")
@quiet_option
@verbose_option("Also print every model call (tokens, cost, retries) and the output of failing checks.")
def run(**params: Any) -> None:
    """Plan, patch and commit REQUEST on a new branch (REQUEST may be - for stdin).

    \b
    Example:
      diffcrew run "rename Config.load to Config.from_file and update callers"
      diffcrew run --dry-run "add type hints to utils.py" > change.patch
    """
    from diffcrew.agent.llm.anthropic_client import require_api_key

    args = RunArgs(**params)  # the one place the 33 options become a value
    machine = _for_a_program(args.as_json, args.stream_json)
    if args.request is None and args.message_file is None and args.push is not None:
        raise UsageError(f"no change request: did --push take {args.push!r} as the remote name? "
                         "Write --push REMOTE, and the request last")
    _check_flags(args)
    text = _read_request(args.request, args.message_file)
    require_api_key()
    options = layered_options(text, args.repo, **args.fixed())
    if args.pr_body is not None:
        check_not_the_repositorys(args.pr_body, "--pr-body", options.repo)
    view = _view(args.quiet, _may_ask(args.yes, machine), args.verbose, machine, args.stream_json, options.repo)
    _execute_and_finish(options, view, args.pr_body, args.as_json, args.stream_json)


def _execute_and_finish(options: cfg.RunOptions, view: View, pr_body: str | None, as_json: bool,
                        stream_json: bool, resume: Resume | None = None) -> None:
    """Run, write the pull-request body, print the result and exit with the run's code."""
    try:
        report = execute(options, view, resume=resume)
    except Interrupted as exc:  # during the push: the branch exists, and stdout says so as after a run
        if exc.branch and not (as_json or stream_json):
            click.echo(click.style(f"Branch {exc.branch}", fg="green", bold=True), err=pr_body == STDOUT)
        if (as_json or stream_json) and exc.report is not None:  # a program reading stdout gets its last record
            click.echo(json.dumps(exc.report.to_dict(), indent=2 if as_json else None, ensure_ascii=False))
        raise
    finish(with_pr_body(report, pr_body), as_json, stream_json, err=pr_body == STDOUT)


def _check_flags(args: RunArgs) -> None:
    """Flags that cannot work together, and output files that cannot be written, are refused
    before anything is read or paid for."""
    one_verbosity(args.quiet, args.verbose)
    if args.dry_run and args.push is not None:
        raise UsageError("--dry-run makes no branch, so there is nothing to --push; drop one of them")
    check_pr_body(args.pr_body, args.as_json or args.stream_json, args.dry_run)


def _for_a_program(as_json: bool, stream_json: bool) -> bool:
    """Whether stdout is for a program (--json or --stream-json; not both, they end in the same report)."""
    if as_json and stream_json:
        raise UsageError("--json and --stream-json cannot be used together: --stream-json ends with the --json "
                         "report, on one line")
    return as_json or stream_json


def _may_ask(yes: bool, machine: bool) -> bool:
    """Ask before the workers start: only when a person is at a terminal to answer."""
    return not yes and not machine and sys.stdin.isatty() and sys.stderr.isatty()


def _read_request(request: str | None, message_file: str | None) -> str:
    if request is not None and message_file is not None:
        raise UsageError("give the request either as an argument or with --message-file, not both")
    if message_file is not None:  # a file, or `-F <(cmd)`, a FIFO, /dev/stdin: read once
        text = read_input(message_file, "request file", cfg.MAX_REQUEST_BYTES).decode("utf-8", errors="replace")
    elif request == "-":  # bytes, so that non-UTF-8 input is refused in one line whatever the locale
        text = read_input("-", "request", cfg.MAX_REQUEST_BYTES).decode("utf-8", "surrogateescape")
    elif request is None:
        raise UsageError('no change request: diffcrew run "what to change" (or --message-file FILE, or - for stdin)')
    else:
        text = request
    if not text.strip():
        raise UsageError("the change request is empty: say what to change")
    return text.strip()


def _view(quiet: bool, ask: bool, verbose: bool = False, machine: bool = False, stream_json: bool = False,
          repo: Path | None = None) -> View:
    """The view of the run's progress on stderr: live on a terminal, plain lines otherwise, nothing with
    -q; plain lines (or none with -q) when stdout is for a program (--json, --stream-json), which
    with --stream-json also gets every event, as JSON lines (agent/streamjson.py)."""
    from diffcrew.agent.view import choose_view

    view = choose_view(quiet=quiet, verbose=verbose, ask=ask, terminal=False if machine else None)
    if not stream_json:
        return view
    from diffcrew.agent.streamjson import StreamView

    return StreamView(view, repo or Path("."))


def execute(options: cfg.RunOptions, view: View, make_client: Callable[[], ModelClient] | None = None,
            resume: Resume | None = None) -> RunReport:
    """Run the flow with `view` showing its progress; the view is closed before anything else prints
    (also on Ctrl-C, which the group's boundary reports). `resume`: a retry's starting point."""
    from diffcrew.agent.llm.anthropic_client import AnthropicClient
    from diffcrew.agent.run import run_change

    factory = make_client or (lambda: AnthropicClient(timeout=options.request_timeout))
    with view:
        return run_change(options, view, factory, resume)


@main.command()
@click.option("--keep", is_flag=True, help="Keep the sample repository (its path is printed) to look at or try "
              "diffcrew in; by default it is removed when the demo ends.")
@progress_options
def demo(keep: bool, as_json: bool, stream_json: bool, quiet: bool, verbose: bool) -> None:
    """Run the whole pipeline on a bundled sample repository with a SCRIPTED model.

    \b
    Example:
      diffcrew demo            # live view on a terminal, then the diff of the branch it made
      diffcrew demo --keep     # keep the sample repository to review the branch or try your own run
      diffcrew demo --json     # the run report, as CI would read it
      diffcrew demo --stream-json | jq -c 'select(.type == "worker")'

    Needs no API key and no network: the model's answers come from a script shipped with
    diffcrew, and everything else (planning checks, parallel workers, the patch engine, the
    repair loop, the review that amends the plan, the commit on a new branch) is the real code.
    The sample repository is a temporary directory, removed at the end (also on Ctrl-C or an
    error) unless --keep.
    """
    from diffcrew.agent.demo import DEMO_REQUEST, DEMO_REVIEW_ROUNDS, demo_repo, scripted_client
    from diffcrew.agent.signals import like_ctrl_c

    one_verbosity(quiet, verbose)
    note = ("diffcrew demo: the model is SCRIPTED (answers shipped with diffcrew; no API key, no network).\n"
            "Everything else is the real pipeline: the plan, the workers, the checks, the review (which\n"
            "amends the plan here, so the crew works again) and the commit.")
    machine = _for_a_program(as_json, stream_json)
    with like_ctrl_c(), demo_repo(keep) as repo:  # SIGTERM and SIGHUP remove it too
        if not machine:
            click.echo(click.style(note, fg="cyan", bold=True), err=True)
            kept = "kept after the demo" if keep else "removed after the demo; --keep keeps it"
            click.echo(f"Sample repository: {repo} ({kept})\nRequest: {DEMO_REQUEST}\n", err=True)
        options = cfg.RunOptions(request=DEMO_REQUEST, repo=repo, branch="diffcrew/demo",
                                 review_rounds=DEMO_REVIEW_ROUNDS)
        report = execute(options, _view(quiet, False, verbose, machine, stream_json, repo),
                         make_client=scripted_client)
        if machine or not report.commit:
            finish(report, as_json, stream_json)
        _show_demo_branch(report, repo, keep)
        sys.exit(report.exit_code)


def _show_demo_branch(report: RunReport, repo: Path, keep: bool) -> None:
    """The demo's result, the diff of the branch it made, and what to try next. The review
    command is printed only for a kept repository: it must still exist when the user runs it."""
    from diffcrew.tools.difftext import git_diff
    from diffcrew.tools.git import GitRepo

    print_report(report, review=keep)
    change = git_diff(GitRepo(repo), report.base, report.commit or "",
                      expected=[r.path for r in report.results if r.ok])
    click.echo(click.style(f"\n$ git diff {report.base[:12]}...{report.branch}", bold=True))
    click.echo(change.text, nl=False)
    scripted = click.style("\nThe model was scripted: this was a demonstration.", fg="cyan", bold=True)
    if keep:
        click.echo(f"{scripted} The sample repository is kept; with ANTHROPIC_API_KEY set, try:\n"
                   f"  cd {shlex.quote(str(repo))} && diffcrew run \"your own change\"")
    else:
        click.echo(f"{scripted} The sample repository was removed; `diffcrew demo --keep` keeps it. "
                   "With ANTHROPIC_API_KEY set, try in your own repository:\n  diffcrew run \"your own change\"")


def rerun_options(f: F) -> F:
    """RUN and the options of the commands that run a recorded run again (replay, retry)."""
    for option in reversed((run_argument, repo_option(), click.option(
            "--branch", metavar="NAME", help="Branch to create (default: diffcrew/<slug>-<id>)."),
            yes_option, progress_options)):
        f = option(f)
    return f


@main.command("replay")
@rerun_options
def replay_command(run_id: str, repo: str, branch: str | None, as_json: bool, stream_json: bool, yes: bool,
                   quiet: bool, verbose: bool) -> None:
    """Run a recorded run again from its transcript: no key, no network, onto a new branch.

    \b
    Example:
      diffcrew replay 20261122-153000-a1b2c3 --yes

    The model's answers are read from .git/diffcrew/runs/RUN.jsonl; everything else (plan
    checks, the patch engine, the sandbox checks, the commit) runs for real, on the run's
    recorded base commit, so the new branch holds the same tree.
    """
    from diffcrew.agent.llm.scripted import ScriptedClient
    from diffcrew.agent.replay import load_replay
    from diffcrew.tools.git import GitRepo

    one_verbosity(quiet, verbose)
    machine = _for_a_program(as_json, stream_json)
    options, turns = load_replay(GitRepo(Path(repo)), run_id, branch)
    view = _view(quiet, _may_ask(yes, machine), verbose, machine, stream_json, options.repo)
    finish(execute(options, view, make_client=lambda: ScriptedClient(turns)), as_json, stream_json)


@main.command("retry")
@rerun_options
@push_option("Push the new branch to REMOTE (default origin); default: where the failed run was to push it.")
@pr_body_option
def retry_command(run_id: str, repo: str, branch: str | None, as_json: bool, stream_json: bool, yes: bool,
                  quiet: bool, verbose: bool, push: str | None, pr_body: str | None) -> None:
    """Run a failed run again, paying only for what failed: onto a new branch.

    \b
    Example:
      diffcrew retry last --yes

    The same base commit, options and plan (no planning call); each file the run finished is
    reused as it was recorded (no model call, no cost); only the files that failed or never
    finished get new workers, then the checks, the review and the commit message run again.
    The new branch is pushed where the failed run's --push said (--push REMOTE: elsewhere);
    --pr-body is not recorded: give it again.
    RUN is a run id (or a prefix), the short id in its branch name, its branch, or `last`; a run
    that succeeded has nothing to retry (exit 2).
    """
    from diffcrew.agent.llm.anthropic_client import require_api_key
    from diffcrew.agent.retry import load_retry
    from diffcrew.tools.git import GitRepo

    one_verbosity(quiet, verbose)
    machine = _for_a_program(as_json, stream_json)
    check_pr_body(pr_body, machine)
    options, resume = load_retry(GitRepo(Path(repo)), run_id, branch)
    if pr_body is not None:
        check_not_the_repositorys(pr_body, "--pr-body", options.repo)
    if push is not None:
        options = replace(options, push=push)
    require_api_key()
    if not (machine or quiet):
        reused = ", ".join(resume.reused) or "none"
        pushed = f"; then pushed to {options.push}" if options.push else ""
        click.echo(f"Retrying run {resume.of}: reused at no cost: {reused}; run again: "
                   f"{', '.join(resume.again) or 'none'}{pushed}", err=True)
    view = _view(quiet, _may_ask(yes, machine), verbose, machine, stream_json, options.repo)
    _execute_and_finish(options, view, pr_body, as_json, stream_json, resume)
