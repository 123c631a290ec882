"""A check's Node imports the change's workspace packages, not the user's checkout's.

npm, yarn and pnpm workspaces link each package of a monorepo into the checkout's `node_modules`
(`node_modules/a -> ../packages/a`, `node_modules/@scope/b -> ../../packages/b`). The workspace has no
`node_modules` of its own (it is not committed), so Node, looking upwards from the workspace, finds the
checkout's and follows those links into the checkout: a check would run the checkout's packages, not
the change's, and pass whatever the change broke. `link_packages` gives the workspace a `node_modules`
holding only such links, each aimed at the same folder in the workspace; every other package is
still found in the checkout's `node_modules` further up, as before.

Only done when the checkout has a `node_modules` folder, the workspace has none, and git ignores
`node_modules` in the workspace (so a check's `git status` does not see the links).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from diffcrew.sandbox.checkenv import scrubbed_env

MODULES = "node_modules"


def link_packages(checkout: Path, workspace: Path) -> list[str]:
    """Link, in the workspace's node_modules, the checkout's packages that are folders of the checkout;
    return the names linked."""
    source, target = checkout / MODULES, workspace / MODULES
    if not source.is_dir() or source.is_symlink() or os.path.lexists(target) or not _ignored(workspace):
        return []
    linked = []
    try:
        for name, rel in _packages(source, checkout.resolve()):
            if (workspace / rel).is_dir():
                link = target / name
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.path.relpath(workspace / rel, link.parent), link)
                linked.append(name)
    except OSError:
        pass  # an unreadable node_modules: the check runs as it would have without the links
    return linked


def _packages(source: Path, checkout: Path) -> list[tuple[str, Path]]:
    """(package name, folder relative to the checkout) for each link of `source` into the checkout
    outside any node_modules and the git directory."""
    entries: list[tuple[str, Path]] = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("@") and entry.is_dir() and not entry.is_symlink():
            entries += [(f"{entry.name}/{sub.name}", sub) for sub in sorted(entry.iterdir())]
        elif not entry.name.startswith("."):
            entries.append((entry.name, entry))
    found = []
    for name, entry in entries:
        if not entry.is_symlink():
            continue
        try:
            rel = entry.resolve().relative_to(checkout)
        except (OSError, RuntimeError, ValueError):
            continue
        if rel.parts and not {MODULES, ".git"} & set(rel.parts):
            found.append((name, rel))
    return found


def _ignored(workspace: Path) -> bool:
    try:
        done = subprocess.run(["git", "check-ignore", "-q", f"{MODULES}/"], cwd=workspace, env=scrubbed_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
