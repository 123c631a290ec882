"""Git's binary patches ("GIT binary patch"): decode the base85 blocks and apply them exactly.

A block is `literal N` or `delta N` followed by lines of base85 (each line's first character
gives its byte count: A-Z = 1..26, a-z = 27..52) holding zlib-deflated data of N bytes. The
first block turns the old bytes into the new ones; a second one, when present, turns them
back. A literal is the new content itself; a delta is git's copy/insert program over the old
bytes. Everything is checked (sizes, base85, zlib, delta bounds, the `index` line's blob ids,
the reverse block) before any byte is produced: a bad patch is refused with one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from diffcrew.tools._patch_errors import PatchRejected, whole_diff_error

_HEADER = re.compile(r"^(literal|delta) (\d+)$")
_DATA = re.compile(r"^[A-Za-z][0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+$")
_INDEX = re.compile(r"^index ([0-9a-f]{4,64})\.\.([0-9a-f]{4,64})(?: \d+)?[ \t]*$", re.MULTILINE)
MAX_SIZE = 1 << 30  # a declared size beyond this is not a patch anyone meant to send


@dataclass(frozen=True)
class Block:
    kind: str  # "literal" | "delta"
    data: bytes  # inflated: the content (literal) or the delta program (delta)


def is_block_line(before: Sequence[str], line: str) -> bool:
    """Whether `line` continues a binary patch whose lines after "GIT binary patch" are `before`.

    A block is a header, data lines, then a blank line; another header may follow the blank.
    """
    ended = not before or before[-1] == ""
    if _HEADER.match(line):
        return ended
    if line == "":
        return not ended
    return not ended and _DATA.match(line) is not None


def take_block_line(block: list[str] | None, line: str) -> bool:
    """Append `line` to the binary patch being read (None: none is) when it continues it; whether it did.

    Trailing whitespace (a mailer's, an editor's) is dropped: base85 has no blank character.
    """
    line = line.rstrip()
    if block is None or not is_block_line(block, line):
        return False
    block.append(line)
    return True


def decode_blocks(lines: Sequence[str], path: str) -> list[Block]:
    """The blocks of a "GIT binary patch" (forward first), each checked and inflated."""
    blocks: list[Block] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            blocks.append(_decode_block(current, path))
            current = []
    if not 1 <= len(blocks) <= 2:
        raise refusal(path, f"expected 1 or 2 literal/delta blocks, found {len(blocks)}")
    return blocks


def _decode_block(lines: list[str], path: str) -> Block:
    header = _HEADER.match(lines[0])
    if header is None:
        raise refusal(path, f"a block starts with {lines[0][:40]!r}, not 'literal N' or 'delta N'")
    size = int(header.group(2))
    if size > MAX_SIZE:
        raise refusal(path, f"a block declares {size} bytes, more than {MAX_SIZE}")
    deflated = b"".join(_base85_line(line, path) for line in lines[1:])
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(deflated, size + 1)
        complete = inflater.eof and not inflater.unconsumed_tail
    except zlib.error as exc:
        raise refusal(path, f"the {header.group(1)} {size} block's data does not inflate ({exc})") from None
    if not complete or len(data) != size:
        raise refusal(path, f"the {header.group(1)} {size} block inflates to "
                            f"{len(data) if complete else 'more than ' + str(size)} bytes, not {size}")
    return Block(header.group(1), data)


def _base85_line(line: str, path: str) -> bytes:
    """One data line's bytes: its length character, then 5 base85 characters per 4 bytes."""
    count = ord(line[0]) - (ord("A") - 1 if line[0] <= "Z" else ord("a") - 27)
    body = line[1:]
    if not _DATA.match(line) or len(body) != (count + 3) // 4 * 5:
        raise refusal(path, f"a data line is not valid base85 for {count} bytes: {line[:40]!r}")
    try:
        return base64.b85decode(body)[:count]
    except (ValueError, binascii.Error):
        raise refusal(path, f"a data line is not valid base85: {line[:40]!r}") from None


def apply_block(block: Block, source: bytes, path: str) -> bytes:
    """The bytes `block` makes of `source`."""
    return block.data if block.kind == "literal" else apply_delta(source, block.data, path)


def apply_delta(source: bytes, delta: bytes, path: str) -> bytes:
    """Run git's delta program: source and target sizes, then copy (high bit) and insert ops."""
    want_source, pos = _varint(delta, 0, path)
    want_target, pos = _varint(delta, pos, path)
    if want_source != len(source):
        raise refusal(path, f"the delta is for a {want_source}-byte file, but it has {len(source)} bytes")
    out = bytearray()
    while pos < len(delta):
        op = delta[pos]
        pos += 1
        if op & 0x80:
            offset, size, pos = _copy_args(op, delta, pos, path)
            if offset + size > len(source):
                raise refusal(path, f"the delta copies bytes {offset}..{offset + size} of a {len(source)}-byte file")
            out += source[offset:offset + size]
        elif op:
            if pos + op > len(delta):
                raise refusal(path, "the delta inserts more bytes than it holds")
            out += delta[pos:pos + op]
            pos += op
        else:
            raise refusal(path, "the delta has a reserved 0 opcode")
        if len(out) > want_target:
            break
    if len(out) != want_target:
        raise refusal(path, f"the delta makes {len(out)} bytes, but says {want_target}")
    return bytes(out)


def _varint(data: bytes, pos: int, path: str) -> tuple[int, int]:
    """A little-endian base-128 number (high bit: more bytes follow) at pos, and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise refusal(path, "the delta's size header is cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _copy_args(op: int, delta: bytes, pos: int, path: str) -> tuple[int, int, int]:
    """(offset, size, next pos) of a copy op: flag bits 0-3 say which offset bytes follow, 4-6 which size bytes."""
    values = [0, 0]
    for bit in range(7):
        if op & (1 << bit):
            if pos >= len(delta):
                raise refusal(path, "the delta's copy op is cut short")
            which, shift = (0, 8 * bit) if bit < 4 else (1, 8 * (bit - 4))
            values[which] |= delta[pos] << shift
            pos += 1
    return values[0], values[1] or 0x10000, pos


def index_ids(text: str) -> tuple[str, str] | None:
    """The (old, new) blob ids of a section's `index` line, as written (possibly abbreviated)."""
    found = _INDEX.search(text)
    return (found.group(1), found.group(2)) if found else None


def matches_id(data: bytes, blob: str) -> bool:
    """Whether `data` is the blob git names `blob` (SHA-1 or SHA-256, full or abbreviated; all zeros: none)."""
    if set(blob) == {"0"}:
        return not data
    header = b"blob %d\0" % len(data)
    names = [hashlib.sha1(header + data).hexdigest(), hashlib.sha256(header + data).hexdigest()]
    return any(name.startswith(blob) for name in names if len(blob) <= len(name))


def refusal(path: str, why: str) -> PatchRejected:
    return whole_diff_error("binary", f"binary patch for {path} not applied: {why}")


def apply_binary(old: bytes | None, lines: Sequence[str], text: str, path: str,
                 *, created: bool, deleted: bool) -> bytes | None:
    """The file's bytes after a binary patch (None: deleted); `lines` follow "GIT binary patch",
    `text` is the whole section (for its `index` line). Refuses rather than guess."""
    if not lines:
        raise whole_diff_error("binary", f"patch for {path} not applied: it only says the binary files differ, "
                                         "with no data, which neither diffcrew nor `git apply` can apply; make it "
                                         "with `git diff --binary`, then apply that with diffcrew or `git apply`")
    blocks = decode_blocks(lines, path)
    if old is None and not created:
        raise refusal(path, f"{path} does not exist")
    if deleted and old is None:
        raise refusal(path, f"it deletes {path}, which does not exist")
    before = old if old is not None and not created else b""
    ids = index_ids(text)
    if ids and not created and not matches_id(before, ids[0]):
        raise refusal(path, f"{path} is not the file the patch was made from (blob {ids[0]})")
    new = apply_block(blocks[0], before, path)
    if created and old is not None:
        if old == new:
            return old  # already there, byte for byte
        raise refusal(path, f"it creates {path}, but {path} already exists with other content")
    if ids and not matches_id(new if not deleted else b"", ids[1]):
        raise refusal(path, f"the result is not blob {ids[1]} the patch names: the data is corrupt")
    if len(blocks) == 2 and apply_block(blocks[1], new, path) != before:
        raise refusal(path, "its reverse block does not give back the file: the patch is inconsistent")
    if deleted and new:
        raise refusal(path, f"it deletes {path} but leaves {len(new)} bytes")
    return None if deleted else new
