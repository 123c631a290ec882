"""The `diffcrew` command line: the only module that exits; it prints the results, and its views
(agent/view.py: plain lines, or agent/liveview.py on a terminal) print a run's progress.

Exit codes (model-protocol.md): 0 branch made (or dry run done); 1 run failed, no branch;
2 usage or input error; 3 budget exceeded; 4 --allow-partial made a branch without some files;
130 interrupted. Heavy modules (GitPython, the anthropic SDK) are imported inside the commands,
so `diffcrew --help` stays fast.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from diffcrew.agent import __version__, commands
from diffcrew.agent.fix import fix_command
from diffcrew.agent import config as cfg
from diffcrew.agent.pricing import UNPRICED, money
from diffcrew.tools import credentials

if TYPE_CHECKING:
    from diffcrew.agent.types import RunReport
    from diffcrew.agent.view import View


_fail = commands.fail


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="diffcrew")
def main() -> None:
    """diffcrew: describe a change; an orchestrator plans it file by file, workers write the
    patches in parallel, and the result is committed on a new git branch for review.

    Your working tree, index and current branch are never touched.

    \b
    Example:
      diffcrew run "rename Config.load to Config.from_file and update callers"
      diffcrew demo        # the whole pipeline on a sample repo, no API key needed
    """
    # Before any check, hook or git filter can run: the key leaves the environment and this
    # process can no longer be read by them (see tools/credentials.py).
    credentials.seal()


def entry() -> None:
    """The console script: the CLI, then a quick exit.

    The SDK leaves hundreds of thousands of objects behind; the interpreter's final garbage
    collection over them costs about half a second at every exit. Freezing the heap first skips
    that pass (everything diffcrew writes is flushed and closed before it returns).
    """
    if sys.argv[1:2] == ["run"]:  # start the ~1 s SDK import now; it overlaps with git and context work
        threading.Thread(target=importlib.import_module, args=("anthropic",), name="sdk-import", daemon=True).start()
    try:
        main()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()


def _read_request(request: str | None, message_file: str | None) -> str:
    from diffcrew.agent.errors import UsageError

    if request is not None and message_file is not None:
        raise UsageError("give the request either as an argument or with --message-file, not both")
    if message_file is not None:
        path = Path(message_file)
        if not path.is_file():
            raise UsageError(f"request file not found: {message_file}")
        text = path.read_text(encoding="utf-8", errors="replace")
    elif request == "-":  # bytes, so that non-UTF-8 input is refused in one line whatever the locale
        raw = getattr(sys.stdin, "buffer", None)
        text = raw.read().decode("utf-8", "surrogateescape") if raw is not None else sys.stdin.read()
    elif request is None:
        raise UsageError('no change request: diffcrew run "what to change" (or --message-file FILE, or - for stdin)')
    else:
        text = request
    if not text.strip():
        raise UsageError("the change request is empty: say what to change")
    return text.strip()


def _hooks(quiet: bool, ask: bool, verbose: bool = False) -> "View":
    """The view of the run's progress: live on a terminal, plain lines otherwise, nothing with -q."""
    from diffcrew.agent.view import choose_view

    return choose_view(quiet=quiet, verbose=verbose, ask=ask)


def _usage_line(report: "RunReport") -> str:
    total_in = sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in report.usage_by_role.values())
    total_out = sum(u.output_tokens for u in report.usage_by_role.values())
    calls = sum(u.calls for u in report.usage_by_role.values())
    cost = money(report.cost_usd, UNPRICED)
    return f"{calls} model call(s), {total_in:,} input / {total_out:,} output tokens, cost {cost}"


def _print_report(report: "RunReport") -> None:
    from diffcrew.agent.view import colour_diffstat

    if report.status == "dry-run":
        click.echo(report.diff, nl=False)
        click.echo(f"diffcrew: dry run, no branch made. {_usage_line(report)}", err=True)
        return
    if report.exit_code not in (0, 4):
        click.echo(f"diffcrew: error: {report.errors[0] if report.errors else report.status}", err=True)
        click.echo(f"diffcrew: nothing was changed in your repository. Transcript: {report.transcript}", err=True)
        return
    short = report.base[:12]
    click.echo(click.style(f"Branch {report.branch}", fg="green", bold=True) + f" (commit {report.commit[:12]},"
               f" on base {short})")
    click.echo(colour_diffstat(report.diffstat))
    click.echo(f"Review:     git diff {short}...{report.branch}")
    click.echo(f"Usage:      {_usage_line(report)}")
    click.echo(f"Transcript: {report.transcript}")
    if report.remote:
        click.echo(f"Pushed:     {report.branch} to {report.remote}")
    if report.exit_code == 4:
        left = ", ".join(r.path for r in report.results if not r.ok)
        click.echo(click.style(f"warning: --allow-partial left out: {left}", fg="yellow"), err=True)


@main.command()
@click.argument("request", required=False)
@click.option("--message-file", "-F", metavar="FILE", help="Read the change request from FILE.")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--base", default="HEAD", show_default=True, help="The commit the change is built on.")
@click.option("--branch", metavar="NAME", help="Branch to create (default: diffcrew/<slug>-<id>); never overwritten.")
@click.option("--model", default=cfg.DEFAULT_MODEL, show_default=True, help="Model of the orchestrator.")
@click.option("--worker-model", default=cfg.DEFAULT_WORKER_MODEL, show_default=True, help="Model of the workers.")
@click.option("--effort", type=click.Choice(cfg.EFFORTS), default=None,
              help="Reasoning effort of every role (default: plan high, workers medium, summary low; per role "
                   "in the config as plan_effort, worker_effort, summary_effort).")
@click.option("--max-workers", type=click.IntRange(1, 64), default=cfg.DEFAULT_MAX_WORKERS, show_default=True,
              help="Workers (model requests) in flight at once.")
@click.option("--repair-rounds", type=click.IntRange(0, 10), default=cfg.DEFAULT_REPAIR_ROUNDS, show_default=True,
              help="Times a worker may fix a patch that does not apply.")
@click.option("--request-timeout", type=click.FloatRange(min=1),
              default=cfg.DEFAULT_REQUEST_TIMEOUT, show_default=True, help="Seconds per model call.")
@click.option("--plan-turns", type=click.IntRange(1, 50), default=cfg.DEFAULT_PLAN_TURNS, show_default=True,
              help="Model turns the orchestrator may spend exploring the repository before it must plan.")
@click.option("--dry-run", is_flag=True, help="Plan and patch, print one unified diff, make no branch.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout.")
@click.option("--yes", "-y", is_flag=True, help="Never ask before starting the workers.")
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
@click.option("--push", "push", is_flag=False, flag_value="origin", default=None, metavar="[REMOTE]",
              help="Push the new branch to REMOTE (default origin) after the commit; never forced.")
@click.option("--pr-body", "pr_body", metavar="FILE", help="Write a Markdown pull-request description to FILE.")
@click.option("--warm-cache/--no-warm-cache", default=False, show_default=True,
              help="Start one worker first and the rest once its prompt is read, so that they read the shared "
                   "prompt from the cache instead of each paying to write it (cheaper; slower by one "
                   "time-to-first-token).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the result.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every model call (tokens, cost, retries) and the "
              "output of failing checks.")
def run(request: str | None, message_file: str | None, repo: str, base: str, branch: str | None, model: str,
        worker_model: str, effort: str | None, max_workers: int, repair_rounds: int, request_timeout: float, plan_turns: int, dry_run: bool,
        as_json: bool, yes: bool, allow_partial: bool, checks: tuple[str, ...], check_timeout: float,
        run_pre_commit: bool, allow_failing: bool, allow_paths: tuple[str, ...], max_files: int,
        max_file_bytes: int, max_calls: int, max_cost: float | None, timeout: float | None, deny: tuple[str, ...],
        push: str | None,
        pr_body: str | None, warm_cache: bool, quiet: bool, verbose: bool) -> None:
    """Plan, patch and commit REQUEST on a new branch (REQUEST may be - for stdin).

    \b
    Example:
      diffcrew run "rename Config.load to Config.from_file and update callers"
      diffcrew run --dry-run "add type hints to utils.py" > change.patch
    """
    from diffcrew.agent.errors import DiffcrewError, UsageError
    from diffcrew.agent.llm import require_api_key

    try:
        if request is None and message_file is None and push is not None:
            raise UsageError(f"no change request: did --push take {push!r} as the remote name? "
                             "Write --push REMOTE, and the request last")
        text = _read_request(request, message_file)
        require_api_key()
        options = _options(text, repo, base=base, branch=branch, dry_run=dry_run, allow_partial=allow_partial,
                           checks=checks, run_pre_commit=run_pre_commit, allow_failing=allow_failing, push=push)
        ask = not yes and not as_json and sys.stdin.isatty() and sys.stderr.isatty()
        report = _execute(options, _hooks(quiet or as_json, ask, verbose))
        if pr_body and report.commit:
            _write_pr_body(Path(pr_body), report)
    except DiffcrewError as exc:
        _fail(exc.summary, exc.exit_code)
    _finish(report, as_json)


def _options(request: str, repo: str, **fixed: Any) -> cfg.RunOptions:
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


def _write_pr_body(path: Path, report: "RunReport") -> None:
    from diffcrew.agent.errors import UsageError
    from diffcrew.agent.prbody import render_pr_body

    try:
        path.write_text(render_pr_body(report.to_dict()), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the pull-request body to {path}: {exc.strerror}") from None


def _execute(options: cfg.RunOptions, view: "View", make_client: Any = None) -> "RunReport":
    """Run the flow with `view` showing its progress; the view is closed before anything else prints."""
    from diffcrew.agent.llm import AnthropicClient
    from diffcrew.agent.run import run_change

    factory = make_client or (lambda: AnthropicClient(timeout=options.request_timeout))
    try:
        with view:
            return run_change(options, view.hooks(), factory)
    except KeyboardInterrupt:
        from diffcrew.agent.signals import interrupt_code, interrupt_reason

        _fail(f"{interrupt_reason()}; your repository is unchanged", interrupt_code())


def _finish(report: "RunReport", as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    sys.exit(report.exit_code)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the result.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every model call (tokens, cost).")
def demo(as_json: bool, quiet: bool, verbose: bool) -> None:
    """Run the whole pipeline on a bundled sample repository with a SCRIPTED model.

    Needs no API key and no network: the model's answers come from a script shipped with
    diffcrew, and everything else (planning checks, parallel workers, the patch engine, the
    repair loop, the commit on a new branch) is the real code.

    \b
    Example:
      diffcrew demo            # live view on a terminal; then `git diff` of the branch it made
      diffcrew demo --json     # the run report, as CI would read it
    """
    from diffcrew.agent.demo import DEMO_REQUEST, prepare_demo_repo, scripted_client
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.tools.git import GitRepo

    note = ("diffcrew demo: the model is SCRIPTED (answers shipped with diffcrew; no API key, no network).\n"
            "Everything else is the real pipeline.")
    try:
        repo = prepare_demo_repo()
    except DiffcrewError as exc:
        _fail(exc.summary, exc.exit_code)
    if not as_json:
        click.echo(click.style(note, fg="cyan", bold=True), err=True)
        click.echo(f"Sample repository: {repo}\nRequest: {DEMO_REQUEST}\n", err=True)
    options = cfg.RunOptions(request=DEMO_REQUEST, repo=repo, branch="diffcrew/demo")
    try:
        report = _execute(options, _hooks(as_json or quiet, ask=False, verbose=verbose), make_client=scripted_client)
    except DiffcrewError as exc:
        _fail(exc.summary, exc.exit_code)
    if as_json or not report.commit:
        _finish(report, as_json)
    _print_report(report)
    click.echo(click.style(f"\n$ git diff {report.base[:12]}...{report.branch}", bold=True))
    click.echo(GitRepo(repo).diff(report.base, report.commit), nl=False)
    click.echo(click.style("\nThe model was scripted: this was a demonstration.", fg="cyan", bold=True) +
               f" With ANTHROPIC_API_KEY set, try:\n  cd {repo} && diffcrew run \"your own change\"")
    sys.exit(report.exit_code)


@main.command("replay")
@click.argument("run_id", metavar="RUN")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--branch", metavar="NAME", help="Branch to create (default: diffcrew/<slug>-<id>).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout.")
@click.option("--yes", "-y", is_flag=True, help="Never ask before starting the workers.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the result.")
@click.option("--verbose", "-v", is_flag=True, help="Also print every model call (tokens, cost).")
def replay_command(run_id: str, repo: str, branch: str | None, as_json: bool, yes: bool, quiet: bool,
                   verbose: bool) -> None:
    """Run a recorded run again from its transcript: no key, no network, onto a new branch.

    The model's answers are read from .git/diffcrew/runs/RUN.jsonl; everything else (plan
    checks, the patch engine, the sandbox checks, the commit) runs for real, on the run's
    recorded base commit, so the new branch holds the same tree.

    \b
    Example:
      diffcrew replay 20261122-153000-a1b2c3 --yes
    """
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.llm import ScriptedClient
    from diffcrew.agent.replay import load_replay
    from diffcrew.tools.git import GitRepo

    try:
        options, turns = load_replay(GitRepo(Path(repo)), run_id, branch)
        ask = not yes and not as_json and sys.stdin.isatty() and sys.stderr.isatty()
        report = _execute(options, _hooks(as_json or quiet, ask, verbose), make_client=lambda: ScriptedClient(turns))
    except DiffcrewError as exc:
        _fail(exc.summary, exc.exit_code)
    _finish(report, as_json)


@main.command("doctor")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
def doctor_command(repo: str, as_json: bool) -> None:
    """Check that diffcrew can run here: git, the repository, the key, the versions, and that each
    configured model accepts the requests diffcrew sends it (token counting: it costs nothing).

    One line per check; exit 0 when all pass, 1 when any fails.

    \b
    Example:
      diffcrew doctor
      diffcrew doctor --json | jq '.checks[] | select(.ok | not)'
    """
    from diffcrew.agent.doctor import Check, diagnose
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.llm import AnthropicClient

    try:  # the settings a run here would use; outside a repository (reported below), the defaults
        options, problem = _options("doctor", repo), None
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
    sys.exit(0 if ok else 1)


# The commands that call no model live in agent/commands.py; they are part of the same group.
for _command in (commands.apply_command, commands.context_command, commands.config_command,
                 commands.log_command, commands.show_command, commands.discard_command):
    main.add_command(_command)
main.add_command(fix_command)
