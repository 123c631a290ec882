"""Git's file modes, named once: what a tree entry's mode says the entry is.

A module of its own, with no imports, so that the CLI's start-up (which must not load GitPython)
can use them too.
"""

from __future__ import annotations

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
REGULAR_MODES = (FILE_MODE, EXECUTABLE_MODE)  # the entries diffcrew may patch: files, not links or submodules
