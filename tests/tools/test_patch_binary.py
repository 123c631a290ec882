"""Git binary patches (`git diff --binary`) applied byte for byte by `diffcrew apply`, or refused whole.

The fixtures are made by the real git in a temporary repository, so the decoder is checked
against git's own encoder, not against a copy of it.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from diffcrew.tools._patch_binary import apply_delta, decode_blocks, is_block_line
from diffcrew.tools.applyfiles import ApplyRefused, plan_changes, write_changes
from diffcrew.tools.errors import PatchError
from diffcrew.tools.patch import apply_diff

ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
       "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e.invalid",
       "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@e.invalid"}


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, capture_output=True, check=True).stdout


def _write(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        target = root / name
        if data is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def git_binary_diff(tmp: Path, before: dict[str, bytes], after: dict[str, bytes | None],
                    executable: tuple[str, ...] = ()) -> str:
    """What `git diff --binary` says turns `before` into `after` (a file mapped to None is deleted)."""
    repo = tmp / "maker"
    repo.mkdir()
    _git(repo, "init", "-q")
    _write(repo, before)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "before")
    _write(repo, after)
    for name in executable:
        (repo / name).chmod(0o755)
    _git(repo, "add", "-A")
    return _git(repo, "diff", "--cached", "--binary").decode("ascii")


def blob(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size)) + b"\0"


def roundtrip(tmp_path: Path, before: dict[str, bytes], after: dict[str, bytes | None],
              executable: tuple[str, ...] = ()) -> tuple[str, Path]:
    """git's binary diff from `before` to `after`, applied by diffcrew to a plain copy of `before`;
    checks that every file of `after` has git's bytes (None: gone). Returns (diff, the copy)."""
    diff = git_binary_diff(tmp_path, before, after, executable)
    root = tmp_path / "work"
    root.mkdir()
    _write(root, dict(before))
    write_changes(root, plan_changes(root, diff))
    got = {name: (root / name).read_bytes() if (root / name).exists() else None for name in after}
    assert got == after
    return diff, root


def test_literal_creation_of_an_executable_file(tmp_path: Path) -> None:
    diff, root = roundtrip(tmp_path, {}, {"bin/tool": blob(1, 300)}, executable=("bin/tool",))
    assert "new file mode 100755" in diff and "literal 301" in diff
    assert (root / "bin/tool").stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("size, edit", [
    (4000, lambda old: old[:1000] + b"\0inserted\xff" + old[1000:3000] + old[3500:] + b"tail"),
    (200_000, lambda old: old[:150_000] + b"\0changed" + old[150_008:]),  # copies of 0x10000 bytes and more
])
def test_delta_modification_is_byte_exact(tmp_path: Path, size: int, edit: Callable[[bytes], bytes]) -> None:
    old = blob(2, size)
    diff, _ = roundtrip(tmp_path, {"a.bin": old}, {"a.bin": edit(old)})
    assert "\ndelta " in diff


def test_literal_modification_when_the_content_is_all_new(tmp_path: Path) -> None:
    diff, _ = roundtrip(tmp_path, {"x.bin": blob(4, 64)}, {"x.bin": blob(5, 900)})
    assert "\nliteral 901" in diff


def test_binary_deletion(tmp_path: Path) -> None:
    diff, _ = roundtrip(tmp_path, {"gone.bin": blob(6, 500), "keep.txt": b"k\n"}, {"gone.bin": None})
    assert "deleted file mode" in diff


def test_binary_and_text_sections_in_one_diff(tmp_path: Path) -> None:
    roundtrip(tmp_path, {"a.bin": blob(7, 300), "t.txt": b"one\ntwo\n"}, {"a.bin": blob(8, 300), "t.txt": b"one\n2\n"})


def test_trailing_whitespace_on_data_lines_is_tolerated(tmp_path: Path) -> None:
    new = blob(16, 400)
    diff = git_binary_diff(tmp_path, {}, {"w.bin": new})
    padded = "\n".join(line + " " if line[:1].isalpha() else line for line in diff.split("\n"))
    root = tmp_path / "work"
    root.mkdir()
    write_changes(root, plan_changes(root, "```diff\n" + padded + "```\nThat adds the image.\n"))
    assert (root / "w.bin").read_bytes() == new


def _refused_untouched(tmp_path: Path, diff: str, files: dict[str, bytes]) -> str:
    root = tmp_path / "work"
    root.mkdir()
    _write(root, dict(files))
    with pytest.raises(ApplyRefused) as info:
        write_changes(root, plan_changes(root, diff))
    assert {p.name: p.read_bytes() for p in root.iterdir()} == {Path(n).name: d for n, d in files.items()}
    assert len(info.value.reasons) == 1 and "\n" not in info.value.reasons[0]
    return info.value.reasons[0]


def _data_lines(diff: str) -> list[int]:
    lines = diff.split("\n")
    start = lines.index("GIT binary patch") + 2
    return list(range(start, lines.index("", start)))


def test_corrupted_base85_is_refused_and_nothing_written(tmp_path: Path) -> None:
    old, new = blob(9, 600), blob(10, 600)
    diff = git_binary_diff(tmp_path, {"a.bin": old, "t.txt": b"x\n"}, {"a.bin": new, "t.txt": b"y\n"})
    lines = diff.split("\n")
    k = _data_lines(diff)[1]
    lines[k] = lines[k][0] + ("0" if lines[k][1] != "0" else "1") + lines[k][2:]
    reason = _refused_untouched(tmp_path, "\n".join(lines), {"a.bin": old, "t.txt": b"x\n"})
    assert reason.startswith("binary patch for a.bin not applied")


def test_truncated_data_line_is_refused(tmp_path: Path) -> None:
    old = blob(11, 200)
    diff = git_binary_diff(tmp_path, {}, {"n.bin": old})
    lines = diff.split("\n")
    k = _data_lines(diff)[0]
    lines[k] = lines[k][:-5]
    assert "not valid base85" in _refused_untouched(tmp_path, "\n".join(lines), {})


def test_declared_size_mismatch_is_refused(tmp_path: Path) -> None:
    diff = git_binary_diff(tmp_path, {}, {"n.bin": blob(12, 100)})
    assert "inflates to 101 bytes, not 102" in _refused_untouched(tmp_path, diff.replace("literal 101", "literal 102"), {})


def test_patch_for_other_content_is_refused(tmp_path: Path) -> None:
    old, new = blob(13, 3000), blob(13, 3000)[:2000] + b"\0new"
    diff = git_binary_diff(tmp_path, {"a.bin": old}, {"a.bin": new})
    other = old[:10] + b"X" + old[11:]
    assert "is not the file the patch was made from" in _refused_untouched(tmp_path, diff, {"a.bin": other})


def test_creation_over_an_existing_different_file_is_refused(tmp_path: Path) -> None:
    diff = git_binary_diff(tmp_path, {}, {"n.bin": blob(14, 50)})
    assert "already exists" in _refused_untouched(tmp_path, diff, {"n.bin": b"other\0"})


def test_binary_files_differ_is_refused_with_the_git_apply_pointer(tmp_path: Path) -> None:
    diff = ("diff --git a/logo.png b/logo.png\nindex 1111111..2222222 100644\n"
            "Binary files a/logo.png and b/logo.png differ\n")
    reason = _refused_untouched(tmp_path, diff, {"logo.png": b"\x89PNG\0"})
    assert "git apply" in reason and "git diff --binary" in reason
    with pytest.raises(PatchError, match="git apply"):
        apply_diff("\x89PNG", diff, "logo.png")


def test_the_worker_path_still_refuses_a_binary_patch(tmp_path: Path) -> None:
    diff = git_binary_diff(tmp_path, {}, {"n.bin": blob(15, 20)})
    with pytest.raises(PatchError, match="git apply"):
        apply_diff(None, diff, "n.bin")


def test_delta_ops_by_hand() -> None:
    source = bytes(range(256)) * 300  # 76,800 bytes: a copy of size 0 means 0x10000
    delta = bytes([0x80, 0xd8, 0x04, 0x85, 0x80, 0x04]) + bytes([0x80]) + bytes([3]) + b"abc" \
        + bytes([0x91, 0x10, 0x02])
    assert apply_delta(source, delta, "x") == source[:0x10000] + b"abc" + source[16:18]
    with pytest.raises(PatchError, match="76800-byte file, but it has 76801"):
        apply_delta(source + b"!", delta, "x")
    with pytest.raises(PatchError, match="reserved 0 opcode"):
        apply_delta(source, delta[:6] + b"\0", "x")
    with pytest.raises(PatchError, match="copies bytes"):
        apply_delta(b"short", bytes([5, 1, 0x90, 9]), "x")


def test_decoder_refuses_garbage_in_place_of_zlib() -> None:
    with pytest.raises(PatchError, match="does not inflate"):
        decode_blocks(["literal 3", "D" + "00000", ""], "x")
    assert zlib.decompress(zlib.compress(b"")) == b""


def test_block_lines_end_at_prose() -> None:
    kept: list[str] = []
    for line in ["literal 3", "HcmV?d00001", "", "literal 0", "HcmV?d00001", "", "Done"]:
        if not is_block_line(kept, line):
            break
        kept.append(line)
    assert kept[-1] == "" and len(kept) == 6
