"""Stream the objects out of a STIX bundle or TAXII envelope file of any size.

`iter_objects` yields the raw bytes of each element of the top-level `objects` list
without parsing the document as a whole, so memory stays bounded by the largest single
object.  Each element is then parsed with the same strict parser and validator as an
API request, so a file and a POST are judged alike.  Accepted shapes: a bundle
(STIX §8), an envelope (TAXII §3.7), a bare JSON list of objects, or one object.
A bundle or envelope without objects (as `liaison export` writes for an empty
collection, or `{}`) holds nothing.  Everything outside the objects list must be
valid JSON too, and nothing but whitespace may follow the document: a file that is
broken anywhere is refused as a whole, before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from liaison.stix.jsonparse import JSONError, parse_json


_STRUCT = re.compile(rb'["\[\]{}]')
_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
_SPACE = re.compile(rb"[ \t\r\n]*")
_SCALAR_END = re.compile(rb"[,\]\s]")
_OPENERS = {ord("["): ord("]"), ord("{"): ord("}")}


class BundleError(ValueError):
    """The file is not a bundle, envelope or list of objects; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Reader:
    def __init__(self, stream: BinaryIO, chunk: int, progress: Callable[[int], None] | None):
        self.stream = stream
        self.chunk = chunk
        self.buf = bytearray()
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self.progress = progress

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf += data
        if self.progress:
            self.progress(len(data))
        return True

    def drop(self, upto: int) -> int:
        """Forget buf[:upto]; return how much to shift local positions by."""
        del self.buf[:upto]
        self.base += upto
        return upto


def iter_objects(stream: BinaryIO, *, chunk: int = 1 << 20,
                 progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Yield the raw bytes of each object in the file's `objects` list, in order."""
    r = _Reader(stream, chunk, progress)
    pos = _skip_space(r, 0)
    if pos >= len(r.buf):
        raise BundleError("the file is empty")
    if r.buf.startswith(b"\xef\xbb\xbf"):
        raise BundleError("the file starts with a byte order mark; JSON must not (RFC 8259)")
    first = r.buf[pos]
    if first == ord("["):
        yield from _array(r, pos + 1)
        _expect_eof(r, 0)
        return
    if first != ord("{"):
        raise BundleError("the file is not a JSON object or list")
    depth, last_string, start = 0, b"", pos
    while True:
        m = _STRUCT.search(r.buf, pos)
        if m is None:
            if not r.more():
                raise BundleError("the file ends before its JSON is complete")
            continue
        pos = m.start()
        c = r.buf[pos]
        if c == ord('"'):
            end = _string_end(r, pos)
            last_string = bytes(r.buf[pos:end])
            pos = end
        elif c in (ord("{"), ord("[")):
            depth += 1
            pos += 1
            if c == ord("[") and depth == 2 and last_string == b'"objects"':
                head = bytes(r.buf[start:pos])
                yield from _array(r, pos)
                tail_end = _expect_end(r)
                _check_skeleton(head + b"]" + bytes(r.buf[:tail_end]))
                _expect_eof(r, tail_end)
                return
        else:
            depth -= 1
            pos += 1
            if depth == 0:
                whole = bytes(r.buf[start:pos])
                _expect_eof(r, pos)
                if not _is_empty_container(whole):
                    yield whole  # a lone object
                return


def _skip_space(r: _Reader, pos: int) -> int:
    while True:
        m = _SPACE.match(r.buf, pos)
        assert m is not None
        if m.end() < len(r.buf) or not r.more():
            return m.end()


def _string_end(r: _Reader, pos: int) -> int:
    """Position just after the string that opens at `pos`, reading more as needed."""
    while True:
        m = _STRING_END.match(r.buf, pos + 1)
        if m is not None:
            return m.end()
        if not r.more():
            raise BundleError("the file ends inside a string")


def _array(r: _Reader, pos: int) -> Iterator[bytes]:
    """Yield the elements of the list whose '[' is just before `pos`."""
    pos = _skip_space(r, pos)
    if pos < len(r.buf) and r.buf[pos] == ord("]"):
        r.drop(pos + 1)
        return
    while True:
        pos = _skip_space(r, pos)
        if pos >= len(r.buf):
            raise BundleError("the file ends inside the objects list")
        pos -= r.drop(pos)
        end = _element_end(r, pos)
        yield bytes(r.buf[pos:end])
        pos = _skip_space(r, end)
        if pos >= len(r.buf):
            raise BundleError("the file ends inside the objects list")
        sep = r.buf[pos]
        if sep == ord("]"):
            r.drop(pos + 1)
            return
        if sep != ord(","):
            offset = r.base + pos
            raise BundleError(f"expected ',' or ']' between objects at byte {offset}")
        pos += 1


def _element_end(r: _Reader, pos: int) -> int:
    c = r.buf[pos]
    if c == ord('"'):
        return _string_end(r, pos)
    if c not in _OPENERS:
        while True:
            m = _SCALAR_END.search(r.buf, pos)
            if m is not None:
                return m.start()
            if not r.more():
                return len(r.buf)
    return _close(r, pos, 0, "the file ends inside an object")


def _expect_end(r: _Reader) -> int:
    """After the objects list, find where the top-level object closes (just after it)."""
    return _close(r, 0, 1, "the file ends before its JSON is complete")


def _close(r: _Reader, pos: int, depth: int, truncated: str) -> int:
    """Position just after the bracket that brings `depth` back to 0, skipping strings."""
    while True:
        m = _STRUCT.search(r.buf, pos)
        if m is None:
            if not r.more():
                raise BundleError(truncated)
            continue
        pos = m.start()
        c = r.buf[pos]
        if c == ord('"'):
            pos = _string_end(r, pos)
            continue
        depth += 1 if c in _OPENERS else -1
        pos += 1
        if depth == 0:
            return pos


def _expect_eof(r: _Reader, pos: int) -> None:
    """Only whitespace may follow the end of the document."""
    pos = _skip_space(r, pos)
    if pos < len(r.buf):
        raise BundleError(f"unexpected data after the end of the JSON document at byte "
                          f"{r.base + pos}")


def _check_skeleton(skeleton: bytes) -> None:
    """The top-level object with its objects list emptied must itself be valid JSON."""
    try:
        parse_json(skeleton)
    except JSONError as exc:
        raise BundleError(f"the JSON around the objects list is not valid: {exc.message}"
                          ) from None


def _is_empty_container(whole: bytes) -> bool:
    """A bundle without `objects`, or an envelope without `objects` (`{}`, TAXII §3.7)."""
    try:
        doc = parse_json(whole)
    except JSONError as exc:
        raise BundleError(f"the file is not valid JSON: {exc.message}") from None
    if not isinstance(doc, dict):
        return False
    return doc.get("type") == "bundle" or ("type" not in doc and set(doc) <= {"more", "next"})


def check_file(stream: BinaryIO) -> int:
    """Walk a whole file without storing anything: the number of objects, or a
    `BundleError` at the first thing wrong — the structure, or an object the strict
    parser refuses (a file is judged like a TAXII request body, where one bad object
    makes the whole body a 400)."""
    count = 0
    for raw in iter_objects(stream):
        count += 1
        try:
            parse_json(raw)
        except JSONError as exc:
            raise BundleError(f"object {count} of its objects list is not valid JSON: "
                              f"{exc.message}") from None
    return count
