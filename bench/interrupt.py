"""Ctrl-C in the first seconds of `diffcrew run` (issue 18, item 4): how long the run takes to exit.

Not a test: `python bench/interrupt.py [--repeat 5]`. Each round, in the same run of the bench:

  baseline  `python -c "import anthropic"`, timed from start to exit: the SDK's import, which the
            console script starts in a thread and which a Ctrl-C used to wait for
  exit      `diffcrew run` on a small repository (a closed port as the model service: no call can
            go anywhere), sent SIGINT the moment it prints that it read the context, while the
            SDK's import is still under way; timed from the signal to the process's exit (130)

It prints each round and the medians, and the ratio exit / baseline: far below 1 means that the
interruption does not wait for the import.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}


def make_repo(root: Path) -> Path:
    root.mkdir()
    (root / "app.py").write_text("def area(w, h):\n    return w * h\n", encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "--all"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false",
                  "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def baseline() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
    return time.monotonic() - started


def interrupted_run(repo: Path) -> tuple[float, int]:
    """(seconds from SIGINT to exit, exit code) of a run interrupted right after its context read."""
    child = subprocess.Popen(["diffcrew", "run", "--repo", str(repo), "--yes", "type the area function"], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert child.stderr is not None
    for line in child.stderr:
        if "tracked files" in line:
            break
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    code = child.wait(timeout=120)
    elapsed = time.monotonic() - sent
    child.stderr.read()
    return elapsed, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        repo = make_repo(Path(folder) / "repo")
        imports, exits = [], []
        for round_number in range(1, args.repeat + 1):
            imports.append(baseline())
            elapsed, code = interrupted_run(repo)
            exits.append(elapsed)
            print(f"round {round_number}: import anthropic {imports[-1]:.3f} s; "
                  f"Ctrl-C to exit {elapsed:.3f} s (exit {code})")
    median_import, median_exit = statistics.median(imports), statistics.median(exits)
    print(f"median: import anthropic {median_import:.3f} s, Ctrl-C to exit {median_exit:.3f} s, "
          f"ratio {median_exit / median_import:.3f}")


if __name__ == "__main__":
    main()
