"""A check's Python imports the change in the workspace, not the user's checkout that an editable
install points at (sandbox.pyimports): real venvs, real git repos, real subprocesses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_repo, snapshot

from diffcrew.sandbox.checks import Check, run_checks
from diffcrew.sandbox.pyimports import python_path
from diffcrew.sandbox.workspace import Workspace
from diffcrew.tools.git import GitRepo, TreeChange

PKG = "def answer():\n    return 0\n"
CHECK = 'python -c "import sys, pkg; sys.exit(pkg.answer())"'
# setuptools' editable mode: a .pth imports a finder module that maps the package to the checkout.
FINDER = """import importlib.util, sys
MAPPING = {"pkg": %r}
class _Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name in MAPPING:
            return importlib.util.spec_from_file_location(name, MAPPING[name] + "/__init__.py",
                                                          submodule_search_locations=[MAPPING[name]])
        return None
def install():
    sys.meta_path.append(_Finder)
"""


def editable_venv(tmp_path: Path, checkout: Path, style: str) -> Path:
    """A venv whose site-packages holds an editable install of `checkout`'s src/pkg, in `style`."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = list(venv.glob("lib/python*/site-packages"))
    if style == "pth":  # pip -e with flit, hatch, pdm, setuptools' compat mode: a folder on sys.path
        (site / "_pkg.pth").write_text(f"{checkout / 'src'}\n")
    else:
        (site / "__editable___pkg_finder.py").write_text(FINDER % str(checkout / "src" / "pkg"))
        (site / "__editable___pkg.pth").write_text("import __editable___pkg_finder; __editable___pkg_finder.install()\n")
    return venv


@pytest.mark.parametrize("style", ["pth", "finder"])
def test_a_check_imports_the_change_not_the_checkout_an_editable_install_points_at(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str) -> None:
    root = make_repo(tmp_path / "repo", {"src/pkg/__init__.py": PKG})
    venv = editable_venv(tmp_path, root, style)
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin")
    before = snapshot(root)
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    broken = {"src/pkg/__init__.py": PKG.replace("return 0", "return 3").encode()}
    with Workspace.create(repo, base, "test") as ws:
        ws.write([TreeChange(path, data) for path, data in broken.items()])
        [result] = run_checks([Check("imports", CHECK, 60)], ws, repo, base, broken)
    assert (result.status, result.base_status, result.verdict) == ("fail", "pass", "new-failure")
    assert snapshot(root) == before


def test_a_package_mapped_to_a_folder_of_another_name_is_not_redirected(tmp_path: Path) -> None:
    """`pkg` -> `<checkout>/src/lib` (package-dir): PYTHONPATH cannot name it, and putting the folder above
    it first would make `src`'s other folders importable as packages, as no clean checkout does."""
    root = make_repo(tmp_path / "repo", {"src/lib/__init__.py": PKG})
    venv = editable_venv(tmp_path, root, "finder")
    finder = next(venv.glob("lib/python*/site-packages/__editable___pkg_finder.py"))
    finder.write_text(finder.read_text().replace(str(root / "src" / "pkg"), str(root / "src" / "lib")))
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    assert python_path(root, root / ".git", tmp_path, env) is None
    finder.write_text(finder.read_text().replace(str(root / "src" / "lib"), str(root / "src" / "pkg")))
    shutil.rmtree(finder.parent / "__pycache__", ignore_errors=True)  # same size, same second: the old bytecode would be used
    (root / "src" / "pkg").mkdir()
    assert python_path(root, root / ".git", tmp_path, env) == str(tmp_path / "src")


def test_no_editable_install_leaves_the_check_environment_alone(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"src/pkg/__init__.py": PKG})
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    with Workspace.create(repo, base, "test") as ws:
        [result] = run_checks([Check("env", 'test -z "$PYTHONPATH"', 60)], ws, repo, base, {})
    assert result.status == "pass", result.output


def monorepo(tmp_path: Path, ignore: str = "node_modules\n") -> Path:
    """npm workspaces as `npm install` leaves them: the checkout's node_modules links its packages."""
    root = make_repo(tmp_path / "repo", {
        ".gitignore": ignore, "package.json": '{"private": true, "workspaces": ["packages/*"]}\n',
        "packages/a/package.json": '{"name": "a", "main": "index.js"}\n',
        "packages/a/index.js": "module.exports = { answer: () => 0 };\n",
        "packages/b/package.json": '{"name": "@s/b", "main": "index.js"}\n',
        "packages/b/index.js": "module.exports = require('a');\n",
        "test.js": "process.exit(require('@s/b').answer());\n"})
    (root / "node_modules" / "@s").mkdir(parents=True)
    (root / "node_modules" / "a").symlink_to("../packages/a")
    (root / "node_modules" / "@s" / "b").symlink_to("../../packages/b")
    (root / "node_modules" / "dep").mkdir()  # a downloaded package: found in the checkout, as before
    return root


def run_node_check(root: Path, command: str) -> tuple[str, str | None, str]:
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    broken = {"packages/a/index.js": b"module.exports = { answer: () => 3 };\n"}
    with Workspace.create(repo, base, "test") as ws:
        ws.write([TreeChange(path, data) for path, data in broken.items()])
        [result] = run_checks([Check("node", command, 60)], ws, repo, base, broken)
    return result.verdict, result.base_status, result.output


def test_a_check_resolves_workspace_packages_in_the_workspace_not_the_checkout(tmp_path: Path) -> None:
    root = monorepo(tmp_path)
    before = snapshot(root)
    inside = ('test "$(cd node_modules/a && pwd -P)" = "$(pwd -P)/packages/a" && '
              'test "$(cd node_modules/@s/b && pwd -P)" = "$(pwd -P)/packages/b" && '
              'test ! -e node_modules/dep && test -z "$(git status --porcelain -- node_modules)" && grep -q 3 node_modules/a/index.js')
    assert run_node_check(root, inside)[:2] == ("pass", None)  # grep finds the change: the links are the workspace's
    assert snapshot(root) == before and sorted(p.name for p in (root / "node_modules").iterdir()) == ["@s", "a", "dep"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_node_running_a_workspace_package_sees_the_change(tmp_path: Path) -> None:
    verdict, base_status, output = run_node_check(monorepo(tmp_path), "node test.js")
    assert (verdict, base_status) == ("new-failure", "pass"), output


def test_node_modules_that_git_does_not_ignore_gets_no_links(tmp_path: Path) -> None:
    verdict, _, output = run_node_check(monorepo(tmp_path, ignore=""), "test ! -e node_modules")
    assert verdict == "pass", output
