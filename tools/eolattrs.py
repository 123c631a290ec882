"""Line endings for the files `diffcrew apply` creates, as git would check them out.

A diff's added lines carry no line ending of their own (LF in practice). For a file that
already exists, added lines take the endings of the lines around them (tools._patch_text).
A new file has no neighbours: it gets what `git checkout` would give it, by git's own rules,
asked of git itself (`git check-attr`, `git config`) rather than re-implemented:

1. `.gitattributes` (any level, info/attributes, core.attributesFile): `-text`/`binary` leave
   the bytes alone; `eol=crlf` gives CRLF and `eol=lf` LF; `text`/`text=auto` without `eol`
   follow the configuration below.
2. `core.autocrlf`: true gives CRLF (also to files with no `text` attribute); input gives LF.
   Otherwise `core.eol=crlf` gives CRLF to files marked `text` or `text=auto`.

Only LF-only text is converted: content with a NUL byte (binary) or any CR is left as it is,
as is everything outside a git work tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from diffcrew.tools.gitconst import local_git

_TRUE = frozenset({"true", "yes", "on", "1"})


def checkout_bytes(root: Path, created: Mapping[str, bytes]) -> dict[str, bytes]:
    """The created files (repository path -> bytes as the diff gave them) that git would check out
    with CRLF, converted; files that stay as they are are left out of the answer."""
    convertible = [path for path, data in created.items() if _lf_only_text(data)]
    if not convertible:
        return {}
    attrs = _attributes(root, convertible)
    if attrs is None:
        return {}  # not a git work tree: nothing says what the endings should be
    config = _config(root)
    crlf = [path for path in convertible if wants_crlf(attrs.get(path, {}), config)]
    return {path: created[path].replace(b"\n", b"\r\n") for path in crlf}


def wants_crlf(attrs: Mapping[str, str], config: Mapping[str, str]) -> bool:
    """Whether git checks out a text file with these `text`/`eol` attributes and core settings as CRLF.

    Attribute values are check-attr's: "set", "unset", "unspecified" or the value given.
    """
    text, eol = attrs.get("text", "unspecified"), attrs.get("eol", "unspecified")
    if text in ("unset", "input"):
        return False
    if eol in ("crlf", "lf"):
        return eol == "crlf"
    autocrlf = config.get("core.autocrlf", "false").lower()
    if autocrlf in _TRUE:
        return True
    if autocrlf == "input" or text not in ("set", "auto"):
        return False
    return config.get("core.eol", "native").lower() == "crlf"


def _lf_only_text(data: bytes) -> bool:
    return b"\n" in data and b"\r" not in data and b"\0" not in data


def _attributes(root: Path, paths: list[str]) -> dict[str, dict[str, str]] | None:
    """path -> {"text": value, "eol": value} from `git check-attr -z`; None outside a git work tree."""
    done = local_git(root, "check-attr", "-z", "text", "eol", "--", *paths)
    if done is None or done.returncode != 0:
        return None
    fields = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    found: dict[str, dict[str, str]] = {}
    for k in range(0, len(fields) - 2, 3):
        path, name, value = fields[k:k + 3]
        found.setdefault(path, {})[name] = value
    return found


def _config(root: Path) -> dict[str, str]:
    """core.autocrlf and core.eol as git reads them for this repository (every config level)."""
    done = local_git(root, "config", "-z", "--get-regexp", r"^core\.(autocrlf|eol)$")
    settings: dict[str, str] = {}
    if done is None or done.returncode != 0:
        return settings  # exit 1: neither is set
    for entry in done.stdout.decode("utf-8", errors="replace").split("\0"):
        key, _, value = entry.partition("\n")
        if key:
            settings[key.lower()] = value  # the last one read wins, as in git
    return settings
