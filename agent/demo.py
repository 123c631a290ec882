"""`diffcrew demo`: the real pipeline on a bundled sample repository, with a scripted model.

The sample repository and the script ship inside the package (agent/demo_data/), so the demo works
on a fresh machine with no key and no network. The script is the same format the test fakes
use (`diffcrew.agent.script`), answered at the model seam by `ScriptedClient`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Iterator

import git

from diffcrew.agent.llm.protocol import ModelClient
from diffcrew.agent.llm.scripted import ScriptedClient
from diffcrew.agent.script import load_script

DEMO_REQUEST = ("Rename Store.load to Store.from_file, update its callers, "
                "and add a CHANGELOG.md entry about the rename")
DEMO_REVIEW_ROUNDS = 2  # the script's review amends the plan in round 1 and approves in round 2
_IDENTITY = {"GIT_AUTHOR_NAME": "diffcrew demo", "GIT_AUTHOR_EMAIL": "demo@diffcrew.invalid",
             "GIT_COMMITTER_NAME": "diffcrew demo", "GIT_COMMITTER_EMAIL": "demo@diffcrew.invalid"}


def _demo_files() -> resources.abc.Traversable:
    return resources.files("diffcrew.agent").joinpath("demo_data")


def _copy_tree(source: resources.abc.Traversable, target: Path) -> None:
    for item in source.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            (target / item.name).mkdir()
            _copy_tree(item, target / item.name)
        else:
            (target / item.name).write_bytes(item.read_bytes())


def prepare_demo_repo(parent: Path | None = None) -> Path:
    """A fresh git repository holding the sample project in one commit; returns its path."""
    root = Path(tempfile.mkdtemp(prefix="diffcrew-demo-", dir=parent))
    try:
        _copy_tree(_demo_files().joinpath("sample"), root)
        repo = git.Repo.init(root, initial_branch="main")
        repo.git.add("--all")
        repo.git.execute(["git", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
                          "-m", "Sample inventory project"], env=_IDENTITY)
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


@contextlib.contextmanager
def demo_repo(keep: bool = False) -> Iterator[Path]:
    """A fresh sample repository for one demo, removed when the block ends, however it ends
    (an error, Ctrl-C, SIGTERM forwarded as Ctrl-C), unless `keep`."""
    root = prepare_demo_repo()
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def demo_script_text() -> str:
    """The demo's script (agent/demo_data/script.json): the tests also play it on the strict fake."""
    return _demo_files().joinpath("script.json").read_text(encoding="utf-8")


def scripted_client() -> ModelClient:
    """The demo's model: answers read from agent/demo_data/script.json, with a short think time."""
    return ScriptedClient(load_script(demo_script_text()), delay=0.2)
