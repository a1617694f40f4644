"""Strict, fast parsing of untrusted JSON (RFC 8259 + I-JSON, RFC 7493).

Everything a partner or client sends goes through :func:`parse_json` before
any other code looks at it.  The rules enforced are those of I-JSON (RFC 7493
§2), which STIX 2.1 content (STIX §2 "JSON is the serialization") and TAXII
2.1 bodies (TAXII §1.6.8 media types) must satisfy for two parsers to agree
on what an object says:

* the text is UTF-8 without a byte order mark, with no lone surrogates
  (RFC 7493 §2.1);
* member names are unique within each object (RFC 7493 §2.3) — a parser that
  keeps the last duplicate (``orjson``) would let two systems read different
  objects from the same bytes;
* integers lie within ±(2**53-1) and numbers are finite (RFC 7493 §2.2);
* ``\\u0000`` (NUL) appears in no string — it cannot be stored by PostgreSQL
  text/jsonb, so both storage engines must see it refused here, the same way;
* nesting is bounded (``jiter`` refuses more than 200 levels).

Speed: ``jiter`` (with duplicate detection) does the parse.  The checks it
does not make are run as a precise walk over the parsed value only when a
cheap C-speed screen over the raw bytes says they may be needed: a memchr for
a backslash then ``b"\\\\u0000" in data`` for NUL; and, after one
``bytes.translate`` pass (digits -> ``0``, number terminators -> ``;``,
whitespace deleted), a ``find`` of ``b"0;"`` that lands on the end of every
number.  A token that is not in value position (digits of UUIDs, hashes,
text) or is short enough to be a safe integer / finite float is dismissed.
"""

from __future__ import annotations

import math
import re
from typing import Any

import jiter
import orjson

__all__ = ["JSONError", "MAX_SAFE_INT", "MAX_DEPTH", "check_serialised", "parse_json"]

#: Largest integer magnitude I-JSON allows (RFC 7493 §2.2): 2**53 - 1.
MAX_SAFE_INT: int = 2**53 - 1
#: Deepest nesting of arrays/objects that jiter accepts.
MAX_DEPTH: int = 200

_RANGE_HINT = "(I-JSON allows integers up to ±(2**53-1) and finite floats)"
_NUL_MSG = "\\u0000 (NUL) is not allowed in strings"
_PAIR_HINT = "(a \\ud800-\\udfff escape must be part of a valid surrogate pair)"

# Screening table (applied after a successful parse, so the text is valid
# JSON): JSON whitespace is deleted, every digit becomes "0", "E" -> "e",
# "+" -> "-", and the bytes that may end a number ("," "}" "]") become ";".
# A number in value position then reads "<:[;>-?0+(.0+)?(e-?0+)?" followed
# by ";" or the end of the text, so b"0;" finds the end of every number.
_SCREEN = bytes.maketrans(b"0123456789E+,}]", b"0000000000e-;;;")
_WHITESPACE = b" \t\r\n"
_NUMBER_CHARS = frozenset(b"0.e-")
_BEFORE_VALUE = frozenset(b":[;")
_BACKSCAN_LIMIT = 400

_POSITION = re.compile(r"\s*at line (\d+) column (\d+)\s*$")
_RAW_NUMBER = re.compile(rb"(?:^|[:,\[])[ \t\r\n]*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)")


class JSONError(ValueError):
    """Untrusted JSON was refused; ``message`` is one sentence for a human."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message: str = message


def parse_json(data: bytes) -> Any:
    """Parse untrusted JSON ``data`` strictly (RFC 8259, I-JSON RFC 7493).

    Returns the value (dict, list, str, int, float, bool or None).  Raises
    :class:`JSONError` for syntax errors, invalid UTF-8, lone surrogates, a
    BOM, duplicate member names, nesting deeper than :data:`MAX_DEPTH`,
    integers beyond ±(2**53-1), non-finite numbers and ``\\u0000``.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif not isinstance(data, bytes):
        raise TypeError(f"parse_json expects bytes, not {type(data).__name__}")
    try:
        value = jiter.from_json(data, catch_duplicate_keys=True, allow_inf_nan=False, cache_mode="keys")
    except ValueError as exc:
        raise JSONError(_translate(str(exc), data)) from None
    if _needs_walk(data):
        problem = _first_problem(value)
        if problem is not None:
            raise JSONError(_describe(problem, value, data))
    return value


def check_serialised(value: Any, encoded: bytes) -> None:
    """Apply the same I-JSON limits to a value built in Python.

    ``encoded`` is ``value`` serialised by orjson.  Used for objects that did
    not come through :func:`parse_json` (converters, tests): a NUL, an
    integer beyond ±(2**53-1), or a NaN/infinity (which orjson writes as
    ``null``) raises :class:`JSONError`.  Costs one screen of ``encoded``.
    """
    if _needs_walk(encoded) or b"null" in encoded:
        problem = _first_problem(value)
        if problem is not None:
            raise JSONError(_describe(problem, value, encoded))


# --------------------------------------------------------------------------
# cheap screen


def _needs_walk(data: bytes) -> bool:
    """Return True when ``data`` may hold a NUL or an out-of-range number.

    Conservative: False only when no string can contain ``\\u0000`` and no
    number token in value position has 16+ characters or a 3+ digit exponent
    (every number smaller than that is a finite float or a safe integer).
    """
    if b"\\" in data and b"\\u0000" in data:
        return True
    screened = data.translate(_SCREEN, _WHITESPACE)
    if screened.endswith(b"0") and _suspicious_number(screened, len(screened) - 1):
        return True
    budget = 32 + len(data) // 64
    i = screened.find(b"0;")
    while i != -1:
        if _suspicious_number(screened, i):
            return True
        budget -= 1
        if budget <= 0:
            return True
        i = screened.find(b"0;", i + 2)
    return False


def _suspicious_number(screened: bytes, end: int) -> bool:
    """Is the token ending at ``end`` a number in value position that might
    exceed I-JSON's limits (16+ characters, or an exponent of 3+ digits)?"""
    k = end
    stop = max(-1, end - _BACKSCAN_LIMIT)
    while k > stop and screened[k] in _NUMBER_CHARS:
        k -= 1
    if k == stop and stop != -1:
        return True  # a very long run of number characters: check precisely
    if k != -1 and screened[k] not in _BEFORE_VALUE:
        return False  # digits inside a string (hex ids, hashes, text)
    token = screened[k + 1 : end + 1]
    if len(token) >= 16:
        return True
    exponent = token.partition(b"e")[2]
    return len(exponent.lstrip(b"-")) >= 3


# --------------------------------------------------------------------------
# precise walk (only when the screen says so)


def _bad_scalar(v: Any) -> bool:
    if type(v) is str:
        return "\x00" in v
    if type(v) is int:
        return v > MAX_SAFE_INT or v < -MAX_SAFE_INT
    if type(v) is float:
        return not math.isfinite(v)
    return False


def _first_problem(root: Any) -> tuple[str, Any] | None:
    """Iteratively find the first offending value: ("key"|"value", value)."""
    stack: list[Any] = [root]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        t = type(v)
        if t is dict:
            for k, item in v.items():
                if "\x00" in k:
                    return ("key", k)
                tt = type(item)
                if tt is dict or tt is list:
                    push(item)
                elif _bad_scalar(item):
                    return ("value", item)
        elif t is list:
            for item in v:
                tt = type(item)
                if tt is dict or tt is list:
                    push(item)
                elif _bad_scalar(item):
                    return ("value", item)
        elif _bad_scalar(v):
            return ("value", v)
    return None


def _path_to(root: Any, target: tuple[str, Any]) -> str:
    """JSONPath-like location of ``target`` (error path only; iterative)."""
    kind, bad = target
    stack: list[tuple[Any, str]] = [(root, "$")]
    while stack:
        v, path = stack.pop()
        if type(v) is dict:
            for k, item in v.items():
                where = path + _show_key(k)
                if kind == "key" and k is bad:
                    return where
                if type(item) in (dict, list):
                    stack.append((item, where))
                elif kind == "value" and item is bad:
                    return where
        elif type(v) is list:
            for n, item in enumerate(v):
                where = f"{path}[{n}]"
                if type(item) in (dict, list):
                    stack.append((item, where))
                elif kind == "value" and item is bad:
                    return where
        elif kind == "value" and v is bad:
            return path
    return "$"


def _show_key(k: str) -> str:
    if k.isidentifier() and k.isascii():
        return f".{k}"
    return f"[{orjson.dumps(k).decode()}]"


def _describe(problem: tuple[str, Any], root: Any, data: bytes) -> str:
    kind, bad = problem
    where = _path_to(root, problem)
    if kind == "key":
        return f"{_NUL_MSG} (found in a member name at {where})"
    if type(bad) is str:
        return f"{_NUL_MSG} (found at {where})"
    if type(bad) is int:
        text = str(bad) if len(str(bad)) <= 40 else f"{str(bad)[:20]}… ({len(str(bad))} digits)"
        return f"number {text} is out of range {_RANGE_HINT} at {where}"
    text = _raw_overflowing_number(data) or repr(bad)
    return f"number {text} is out of range {_RANGE_HINT} at {where}"


def _raw_overflowing_number(data: bytes) -> str | None:
    """Find the original spelling of a number that overflowed to ±inf."""
    for m in _RAW_NUMBER.finditer(data):
        token = m.group(1)
        if (b"e" in token or b"E" in token or len(token) > 300) and math.isinf(float(token)):
            text = token.decode("ascii")
            return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"
    return None


# --------------------------------------------------------------------------
# jiter's messages -> ours


_TRANSLATIONS: tuple[tuple[str, str], ...] = (
    ("recursion limit exceeded", f"nesting too deep (more than {MAX_DEPTH} levels of arrays and objects)"),
    ("invalid unicode code point", "invalid UTF-8 byte sequence"),
    ("lone leading surrogate", f"lone surrogate in a \\u escape {_PAIR_HINT}"),
    ("unexpected end of hex escape", f"incomplete \\u escape or lone surrogate {_PAIR_HINT}"),
    ("number out of range", f"number is out of range {_RANGE_HINT}"),
    ("control character", "unescaped control character in a string"),
)


def _translate(msg: str, data: bytes) -> str:
    """Turn jiter's message into one clear sentence (keeping the position)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "a byte order mark (BOM) is not allowed at the start of JSON text (RFC 8259 §8.1)"
    m = _POSITION.search(msg)
    pos = f" at line {m.group(1)} column {m.group(2)}" if m else ""
    core = msg[: m.start()] if m else msg
    if core.startswith("Detected duplicate key "):
        name = core[len("Detected duplicate key ") :]
        return f"duplicate member name {name}{pos}"
    for prefix, text in _TRANSLATIONS:
        if core.startswith(prefix):
            return f"{text}{pos}"
    if not data.strip():
        return "empty body: expected a JSON value"
    return f"invalid JSON: {core}{pos}"
