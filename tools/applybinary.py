"""`diffcrew apply` for git binary patches: find a binary section and give its exact new bytes.

The text engine (tools.patch) refuses binary sections, since workers edit text only; a patch
file given to `diffcrew apply` may hold `git diff --binary` output, applied here byte for byte
by tools._patch_binary.
"""

from __future__ import annotations

from diffcrew.tools._patch_binary import apply_binary
from diffcrew.tools.patch import FileDiff, split_diff


def binary_diff(section: str) -> FileDiff | None:
    """One section's text as a binary diff, when it is one ("GIT binary patch" or "Binary files ... differ")."""
    if "GIT binary patch" not in section and "Binary files " not in section:
        return None  # the usual text section, not parsed again
    found = [diff for diff in split_diff(section) if diff.binary is not None]
    return found[0] if found else None


def binary_bytes(old: bytes | None, diff: FileDiff, path: str) -> bytes | None:
    """The file's bytes after the binary diff (None: deleted); PatchError when it cannot apply exactly."""
    return apply_binary(old, diff.binary or (), diff.text, path,
                        created=diff.old_path is None, deleted=diff.new_path is None)
