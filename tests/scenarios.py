"""Scripted runs that several test files share: the repository, the model's answers, the result.

- the four-file change: type `greet`, call `shout` from `main`, create a version module, delete
  old.py (modify, modify, create, delete: every action a plan can take);
- the doubling change: `value = N` becomes `value = 2 * N` in every file given.
"""

from __future__ import annotations

from typing import Any

from conftest import patch_turn, plan_turn, summary_turn, udiff

Script = dict[str, list[dict[str, Any]]]

MOD = "def greet(name):\n    return 'hello ' + name\n\n\ndef shout(name):\n    return greet(name).upper()\n"
MOD_NEW = "def greet(name: str) -> str:\n    return 'hello ' + name\n\n\ndef shout(name):\n    return greet(name).upper()\n"
UTIL = "import pkg.mod\n\n\ndef main():\n    print(pkg.mod.greet('world'))\n"
UTIL_NEW = "import pkg.mod\n\n\ndef main():\n    print(pkg.mod.greet('world'))\n    print(pkg.mod.shout('world'))\n"
NEW = "VERSION = '1.0'\n"
FILES = {"pkg/__init__.py": "", "pkg/mod.py": MOD, "pkg/util.py": UTIL, "old.py": "x = 1\n", "README.md": "# demo\n"}


def four_file_script(overrides: Script | None = None) -> Script:
    """The four-file change, with some keys' turns replaced by `overrides`."""
    turns: Script = {
        "orchestrator": [plan_turn("Type greet, shout from main, add a version, drop old.py.", [
            ("pkg/mod.py", "modify", "Add type hints to greet."),
            ("pkg/util.py", "modify", "Also print shout('world')."),
            ("pkg/version.py", "create", "Define VERSION = '1.0'."),
            ("old.py", "delete", "No longer used.")])],
        "worker:pkg/mod.py": [patch_turn(udiff("pkg/mod.py", MOD, MOD_NEW))],
        "worker:pkg/util.py": [patch_turn(udiff("pkg/util.py", UTIL, UTIL_NEW))],
        "worker:pkg/version.py": [patch_turn(udiff("pkg/version.py", None, NEW))],
        "synthesizer": [summary_turn("Type greet and add a version module")],
    }
    turns.update(overrides or {})
    return turns


def doubling_script(files: dict[str, str]) -> Script:
    """One plan that doubles `value = N` in every file, a worker patch per file, and the summary."""
    turns: Script = {"orchestrator": [plan_turn("Double.", [(p, "modify", "double it") for p in files])],
                     "synthesizer": [summary_turn()]}
    for path, text in files.items():
        turns[f"worker:{path}"] = [patch_turn(udiff(path, text, text.replace("= ", "= 2 * ")))]
    return turns
