"""The `diffcrew` command line: the only code that exits.

    group.py     the `diffcrew` group, its one error boundary (DiffcrewError -> one line and its
                 exit code, Ctrl-C -> 130), and `entry`, the console script
    options.py   the options several commands share (--repo, --json, ...), each declared once
    running.py   run, demo, replay, retry: the commands that run the pipeline
    output.py    what they print when the run has ended (plain or JSON)
    apply.py     apply: a sloppy diff onto the working tree
    records.py   log, show, discard: recorded runs
    diagnose.py  context, config, doctor: looking before a run

`diffcrew fix` lives in agent/fix.py. Exit codes: `ExitCode` in tools/errors.py (README, "Exit
codes"). A run's progress is printed by its view (agent/view.py, agent/liveview.py).
"""

from diffcrew.agent.cli import apply, diagnose, records, running  # noqa: F401  (each registers its commands)
from diffcrew.agent.cli.group import entry, main
from diffcrew.agent.fix import fix_command

main.add_command(fix_command)

__all__ = ["entry", "main"]
