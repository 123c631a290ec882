"""A check's Python imports the change, not the user's checkout.

An editable install (`pip install -e .` with setuptools, flit, hatch, pdm; `uv pip install -e`) points
the interpreter at the user's checkout: a `.pth` line puts a folder of the checkout on `sys.path`,
or setuptools' import finder maps package names to folders of it. A check in the sandbox worktree
(`pytest`, `python -m unittest`) would then import the checkout's code instead of the change's, and
pass whatever the change broke. So before a workspace's checks, `python_path` asks the interpreters
a check would start (`python3` and `python` on its PATH, in its environment) where they import from,
and every place inside the checkout (outside its git directory) is replaced by the same place in the
workspace, put first on PYTHONPATH: it is searched before site-packages and before any import finder.
An interpreter that is missing or fails to answer in PROBE_TIMEOUT seconds changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from diffcrew.sandbox.checkenv import scrubbed_env

PROBE_TIMEOUT = 15.0
INTERPRETERS = ("python3", "python")
# The folders the interpreter imports from: sys.path, and for each package that setuptools' editable
# finders (`__editable___<name>_finder`, loaded by a .pth at start-up) map to a folder whose path ends
# with the package's name (`a.b` -> `/x/src/a/b`), the folder that holds it (`/x/src`). A package
# mapped to a folder of another name (`pkg` -> `/x/lib`) cannot be reached through PYTHONPATH: left out.
PROBE = """
import json, os, sys
places = [p for p in sys.path if p]
for name, module in list(sys.modules.items()):
    mapping = getattr(module, "MAPPING", None)
    if name.startswith("__editable__") and isinstance(mapping, dict):
        for package, folder in mapping.items():
            parts, folder = str(package).split("."), os.path.normpath(str(folder))
            if folder.split(os.sep)[-len(parts):] == parts:
                places.append(os.sep.join(folder.split(os.sep)[:-len(parts)]) or os.sep)
print(json.dumps(places))
"""


def python_path(checkout: Path, git_dir: Path, workspace: Path, source: Mapping[str, str] | None = None) -> str | None:
    """PYTHONPATH for a check in `workspace` (environment: `source`, default ours, scrubbed as a check's): the
    workspace's copy of each import place inside `checkout`, then the PYTHONPATH the check would have had;
    None when nothing points at the checkout."""
    env = scrubbed_env(source)
    checkout, git_dir = checkout.resolve(), git_dir.resolve()
    redirected: list[str] = []
    for place in _import_places(env, workspace):
        target = _inside(Path(place), checkout, git_dir)
        if target is not None and (checkout / target).is_dir():  # not a finder's placeholder entry
            moved = str(workspace / target)
            if moved not in redirected:
                redirected.append(moved)
    if not redirected:
        return None
    return os.pathsep.join([*redirected, *filter(None, [env.get("PYTHONPATH")])])


def _import_places(env: dict[str, str], cwd: Path) -> list[str]:
    places: list[str] = []
    seen: set[str] = set()
    for name in INTERPRETERS:
        exe = shutil.which(name, path=env.get("PATH"))
        if exe is None or exe in seen:  # not by realpath: two venvs share one interpreter, not one site-packages
            continue
        seen.add(exe)
        try:
            done = subprocess.run([exe, "-c", PROBE], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=PROBE_TIMEOUT, check=False)
            found = json.loads(done.stdout) if done.returncode == 0 else []
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
        places += [p for p in found if isinstance(p, str)] if isinstance(found, list) else []
    return places


def _inside(place: Path, checkout: Path, git_dir: Path) -> Path | None:
    """`place` relative to the checkout, if it is in it and not in its git directory (the sandboxes)."""
    try:
        place = place.resolve()
    except (OSError, RuntimeError):
        return None
    if place == git_dir or git_dir in place.parents:
        return None
    if place == checkout or checkout in place.parents:
        return place.relative_to(checkout)
    return None
