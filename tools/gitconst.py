"""Git's constants, named once: what a tree entry's mode says the entry is, and how long a local
git command may take.

A module of its own, with no imports, so that the CLI's start-up (which must not load GitPython)
and `diffcrew apply` (which runs git as a plain subprocess) can use them too.
"""

from __future__ import annotations

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
REGULAR_MODES = (FILE_MODE, EXECUTABLE_MODE)  # the entries diffcrew may patch: files, not links or submodules

LOCAL_GIT_TIMEOUT = 30  # seconds for a git command that answers from local files (ls-files, check-attr)
