"""Whether diffcrew's output may hold colour (or any other escape code): the one place that decides.

`--color auto|always|never` (on the `diffcrew` group and on every command; agent/cli/group.py adds it)
is recorded here with `choose`, and every output asks here:

- click's own echo of styled text (the `Branch` line, the diffstat, the demo's banner, `doctor`'s
  marks, `show`'s headings) through the context's `color`, which the option sets to `click_color()`;
- the plain view's lines and `diffcrew fix`'s warnings, which may be printed from any thread, through
  `echo` (click's context is per thread);
- the live view (agent/view.py's `choose_view`), which is drawn only where colour is on: a live
  region is cursor movement, so `NO_COLOR` or `--color never` on a terminal gives plain lines with
  no escape code at all.

The rule: `always` colours every stream, even with `NO_COLOR` set (as git, grep and ls do for their
`--color=always`); `never` colours none; `auto`, the default, colours a stream that is a terminal,
unless `NO_COLOR` is set to anything non-empty (https://no-color.org) or `TERM=dumb`; in `auto`,
`FORCE_COLOR` or `CLICOLOR_FORCE` set to anything but empty or `0` colours a stream that is not a
terminal too (`NO_COLOR` wins when both are set).
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Mapping

import click

CHOICES = ("auto", "always", "never")
FORCE_VARIABLES = ("FORCE_COLOR", "CLICOLOR_FORCE")

_choice = "auto"


def choose(choice: str) -> None:
    """Record `--color CHOICE` for the rest of the process."""
    global _choice
    if choice not in CHOICES:
        raise ValueError(f"--color must be one of {', '.join(CHOICES)}, not {choice!r}")
    _choice = choice


def click_color(env: Mapping[str, str] | None = None) -> bool | None:
    """The decision for every stream at once: True or False, or None when it depends on whether each
    stream is a terminal (click's own test, which `enabled` repeats)."""
    if _choice != "auto":
        return _choice == "always"
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    if any(env.get(name, "") not in ("", "0") for name in FORCE_VARIABLES):
        return True
    return None


def enabled(stream: IO[Any] | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether text written to `stream` (default stdout) may hold escape codes."""
    decided = click_color(env)
    if decided is not None:
        return decided
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def echo(message: str, *, err: bool = False, nl: bool = True) -> None:
    """click.echo with the decision made here, from whichever thread prints (click's context is per thread)."""
    click.echo(message, err=err, nl=nl, color=enabled(sys.stderr if err else sys.stdout))
