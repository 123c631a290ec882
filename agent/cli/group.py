"""The `diffcrew` group and its one error boundary.

Every command raises; none prints its own error line. `DiffcrewGroup.invoke` turns any
`DiffcrewError` into one line `diffcrew: error: ...` on stderr and the exit code the error
carries, and Ctrl-C (or SIGTERM/SIGHUP, forwarded as Ctrl-C by agent/signals.py) into
`interrupted; ...` and 130 (143, 129), as click and httpx handle errors: once, at one place.
The group and every command take `--color auto|always|never` (agent/colour.py decides with it).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import traceback
from typing import Any, NoReturn

import click

from diffcrew.agent import __version__, colour
from diffcrew.tools import credentials
from diffcrew.tools.errors import DiffcrewError, ExitCode, exit_codes_help

# What an interruption left behind, by command (the default: a command that writes through a run).
INTERRUPTED_NOTES = {"fix": "nothing was written"}
INTERRUPTED_NOTE = "your repository is unchanged"


def error_line(message: str) -> str:
    """'diffcrew: error: MESSAGE', the form of every error diffcrew prints."""
    return f"diffcrew: error: {message}"


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then the documented exit code: the only place an error is printed."""
    click.echo(error_line(message), err=True)
    sys.exit(code)


COLOR_HELP = "Colour and other escape codes: auto (on a terminal, unless NO_COLOR is set), always, never."


def _chosen_colour(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Record `--color` (agent/colour.py decides with it) and tell click's echo the decision."""
    if value is not None:
        colour.choose(value)
    ctx.color = colour.click_color()


def color_option(default: str | None) -> click.Option:
    """`--color WHEN`, on the group (default auto) and on every command (default: the group's)."""
    return click.Option(["--color"], type=click.Choice(colour.CHOICES), default=default, help=COLOR_HELP,
                        is_eager=True, expose_value=False, callback=_chosen_colour)


class DiffcrewGroup(click.Group):
    """A click group whose commands' errors end the process in one line and their exit code, and
    whose every command takes `--color`."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.append(color_option(None))
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DiffcrewError as exc:
            fail(exc.summary, exc.exit_code)
        except KeyboardInterrupt:
            from diffcrew.agent.signals import interrupt_code, interrupt_reason

            note = INTERRUPTED_NOTES.get(ctx.invoked_subcommand or "", INTERRUPTED_NOTE)
            fail(f"{interrupt_reason()}; {note}", interrupt_code())


@click.group(cls=DiffcrewGroup, epilog=exit_codes_help(), params=[color_option("auto")],
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    that pass (everything diffcrew writes is flushed and closed before it returns). A process whose
    SDK import is still under way ends by `hard_exit` instead (see agent/llm/sdkimport.py).
    """
    if sys.argv[1:2] == ["run"]:  # the run starts the ~1 s SDK import once its input is checked
        from diffcrew.agent.llm import sdkimport

        sdkimport.arm()
    try:
        main()
    except SystemExit as exc:
        if _importing():
            hard_exit(exc.code)
        raise
    except BaseException:
        if _importing():  # a bug: its traceback, then the exit code Python would give
            traceback.print_exc()
            hard_exit(ExitCode.FAILED)
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()


def _importing() -> bool:
    """Whether the SDK's background import is under way (its module is loaded only for `run`)."""
    module = sys.modules.get("diffcrew.agent.llm.sdkimport")
    return module is not None and bool(module.importing())


def hard_exit(code: str | int | None) -> NoReturn:
    """End the process now, without the interpreter's finalization, which may crash or hang while
    a thread is inside an import: streams flushed and atexit handlers run first (transcripts are
    closed by then: the run closes them on every path), the exit code as sys.exit would give it."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    _flush()
    atexit._run_exitfuncs()
    _flush()
    os._exit(code or 0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, or a reader gone
            stream.flush()
