"""Colour as terminal programs are expected to do it (issue 18, item 4): `NO_COLOR` honoured by every
output, `--color auto|always|never` on the group and on each command, decided in agent/colour.py.

The runs through a pseudo-terminal are what a person sees: with `NO_COLOR=1` (or `--color never`)
not one escape sequence, with the default the same run is coloured (so the count can tell).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import make_repo, run_cli
from diffcrew.agent import colour
from terminal import escapes, run_on_a_terminal
from test_user_faults import FILES, script

COLOUR_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TERM")


@pytest.fixture(autouse=True)
def _auto_after_each_test():
    yield
    colour.choose("auto")


def child_env(tmp_path: Path, server=None, **extra: str) -> dict[str, str]:
    """The environment of a child `diffcrew`: none of the tester's colour settings, a colour terminal,
    temporary folders (the demo's repository) under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_VARIABLES}
    env.update({"TERM": "xterm-256color", "TMPDIR": str(tmp_path), "COLUMNS": "120", "LINES": "40"})
    if server is not None:
        env.update({k: v for k, v in server.env().items() if v is not None})
        env.pop("DIFFCREW_REQUEST_TIMEOUT", None)
    env.update(extra)
    return env


def terminal_run(tmp_path: Path, server, *options: str, **env: str) -> bytes:
    repo = make_repo(tmp_path / "repo", FILES)
    server.set_script(script())
    code, output = run_on_a_terminal(["diffcrew", *options, "run", "--repo", str(repo), "--yes",
                                      "type the area function"], child_env(tmp_path, server, **env))
    assert code == 0, output.decode("utf-8", "replace")
    assert b"Branch diffcrew/" in output and b"geo.py" in output
    return output


# -- through a terminal ----------------------------------------------------------------------------

@pytest.mark.slow
def test_no_color_run_on_a_terminal_prints_no_escape_sequence(tmp_path: Path, server) -> None:
    """The progress (plain lines: a live region is cursor movement), the `Branch` line and the diffstat."""
    output = terminal_run(tmp_path, server, NO_COLOR="1")
    assert escapes(output) == 0, output.decode("utf-8", "replace")
    assert b"worker  geo.py: done" in output  # the plain view's lines stand for the live region


@pytest.mark.slow
def test_the_same_run_on_a_terminal_is_coloured_by_default(tmp_path: Path, server) -> None:
    assert escapes(terminal_run(tmp_path, server)) > 0


@pytest.mark.slow
@pytest.mark.parametrize("options, env, coloured", [
    (("--color", "never"), {}, False),
    (("--color", "always"), {"NO_COLOR": "1"}, True),   # always overrides NO_COLOR, as git and grep do
    (("--color", "auto"), {"NO_COLOR": ""}, True),      # NO_COLOR only counts when it is not empty
], ids=["never", "always-over-NO_COLOR", "empty-NO_COLOR"])
def test_color_option_on_a_terminal(tmp_path: Path, server, options: tuple[str, ...], env: dict[str, str],
                                    coloured: bool) -> None:
    assert (escapes(terminal_run(tmp_path, server, *options, **env)) > 0) is coloured


def test_no_color_demo_on_a_terminal_prints_no_escape_sequence(tmp_path: Path) -> None:
    """The demo's banner, its progress, the `Branch` line, the diffstat and the diff's heading."""
    quiet_code, quiet = run_on_a_terminal(["diffcrew", "demo"], child_env(tmp_path, NO_COLOR="1"))
    loud_code, loud = run_on_a_terminal(["diffcrew", "demo"], child_env(tmp_path))
    assert quiet_code == loud_code == 0, quiet.decode("utf-8", "replace")
    assert b"the model is SCRIPTED" in quiet and b"Branch diffcrew/demo" in quiet
    assert escapes(quiet) == 0, quiet.decode("utf-8", "replace")
    assert escapes(loud) > 0


# -- through a pipe ----------------------------------------------------------------------------------

def test_color_always_through_a_pipe_colours_stdout_and_stderr(tmp_path: Path) -> None:
    """Piped, the demo is plain by default and coloured with --color always (given to the command)."""
    plain = subprocess.run(["diffcrew", "demo"], env=child_env(tmp_path), capture_output=True, timeout=120)
    always = subprocess.run(["diffcrew", "demo", "--color", "always"], env=child_env(tmp_path),
                            capture_output=True, timeout=120)
    assert plain.returncode == always.returncode == 0, always.stderr
    assert escapes(plain.stdout) == escapes(plain.stderr) == 0
    assert escapes(always.stdout) > 0 and escapes(always.stderr) > 0
    assert b"\x1b[" in always.stdout.split(b"\n", 1)[0]  # the Branch line


@pytest.mark.parametrize("args, env, coloured", [
    (["--color", "always", "run"], {}, True),
    (["run", "--color", "always"], {"NO_COLOR": "1"}, True),
    (["--color", "always", "run", "--color", "never"], {}, False),  # the command's own option wins
    (["run"], {"FORCE_COLOR": "1"}, True),
    (["run"], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    (["run"], {"CLICOLOR_FORCE": "0"}, False),
    (["run"], {}, False),
], ids=["group-always", "command-always-NO_COLOR", "command-never-wins", "FORCE_COLOR", "NO_COLOR-over-FORCE",
        "CLICOLOR_FORCE-0", "auto-pipe"])
def test_color_choice_in_process(tmp_path: Path, seam, args: list[str], env: dict[str, str | None],
                                 coloured: bool) -> None:
    """Every line a run prints follows the choice: progress (stderr) and the result (stdout)."""
    repo = make_repo(tmp_path / "repo", FILES)
    seam.set_script(script())
    unset: dict[str, str | None] = {name: None for name in COLOUR_VARIABLES}
    result = run_cli([*args, "--repo", str(repo), "type the area function"], seam, env={**unset, **env})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("\x1b[" if coloured else "Branch diffcrew/")
    assert (escapes(result.stdout) > 0) is coloured and (escapes(result.stderr) > 0) is coloured


# -- the rule --------------------------------------------------------------------------------------

class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("choice, env, tty, expected", [
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"NO_COLOR": "0"}, True, False),      # any non-empty value
    ("auto", {"NO_COLOR": ""}, True, True),
    ("auto", {"TERM": "dumb"}, True, False),
    ("auto", {"FORCE_COLOR": "1"}, False, True),
    ("auto", {"FORCE_COLOR": "0"}, False, False),
    ("auto", {"CLICOLOR_FORCE": "1"}, False, True),
    ("auto", {"CLICOLOR_FORCE": "1", "NO_COLOR": "x"}, False, False),
    ("always", {"NO_COLOR": "1", "TERM": "dumb"}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
])
def test_the_rule(choice: str, env: dict[str, str], tty: bool, expected: bool) -> None:
    colour.choose(choice)
    assert colour.enabled(_Stream(tty), env) is expected  # type: ignore[arg-type]


def test_an_unknown_choice_is_refused_by_the_option() -> None:
    result = run_cli(["--color", "sometimes", "log"])
    assert result.exit_code == 2 and "'sometimes' is not one of 'auto', 'always', 'never'" in result.output
