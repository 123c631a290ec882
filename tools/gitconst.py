"""Git's constants, named once: what a tree entry's mode says the entry is, how long a local git
command may take, and the one way `diffcrew apply` runs such a command.

A module of its own, with no imports at load time, so that the CLI's start-up (which must not load
GitPython) and `diffcrew apply` (which runs git as a plain subprocess) can use them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping
    from pathlib import Path

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
REGULAR_MODES = (FILE_MODE, EXECUTABLE_MODE)  # the entries diffcrew may patch: files, not links or submodules

LOCAL_GIT_TIMEOUT = 30  # seconds for a git command that answers from local files (ls-files, check-attr)


def local_git(root: Path, *args: str, env: Mapping[str, str] | None = None
              ) -> subprocess.CompletedProcess[bytes] | None:
    """`git ARGS` run in `root` without GitPython (paths unquoted), with `env` added to the
    environment; None when git cannot run at all."""
    import os
    import subprocess  # here, not at load time: start-up imports this module

    try:
        return subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=root, capture_output=True,
                              timeout=LOCAL_GIT_TIMEOUT, check=False,
                              env={**os.environ, **env} if env else None)
    except (OSError, subprocess.TimeoutExpired):
        return None
