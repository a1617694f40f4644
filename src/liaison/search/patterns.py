"""Indicator patterns (STIX 2.1 §9) to the observable values they test for equality.

What is indexed: every positive equality comparison (``=``) and set membership
(``IN``), anywhere in the pattern — under AND, OR, FOLLOWEDBY, nested brackets and
parentheses, with any qualifiers (WITHIN, REPEATS, START/STOP, which are ignored) —
whose object path names an identifying value (see `_kind`), plus ``ISSUBSET`` on an
address path (a CIDR block: "which indicators cover 10.1.2.3?").  A value reached
through a reference (``network-traffic:dst_ref.value``) is classified by its form.

Not indexable (documented in docs/search.md): ``!=``, ``NOT =``, ``NOT IN``,
``LIKE``, ``MATCHES``, ``<``/``>``/``<=``/``>=``, ``ISSUPERSET``, ``EXISTS``, binary
and hex literals, properties that are not identifying values (``file:size``,
``process:pid``), and patterns of other languages (``pattern_type`` other than
``stix``).  Those objects are still found by full-text search over the pattern text.

Speed: the ANTLR parser of `stix2patterns` costs ~2 ms per pattern, too slow for the
ingest path, so a small recursive-descent parser of the STIX pattern grammar (the
same productions, collected flat since only comparisons matter) does the work in
tens of microseconds, and `stix2patterns` is asked only when that parser refuses a
pattern (it then either finds the comparisons or confirms the pattern is invalid, in
which case nothing is indexed).  Results are cached per distinct pattern text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from liaison.search.observables import GUESS, Observable, guessed, of_kind, unique

_TOKEN = re.compile(r"""[thb]?'(?:[^'\\]|\\['\\])*'|[-+]?\d+(?:\.\d+)?|!=|<>|<=|>=|[=<>]"""
                    r"|[A-Za-z_][A-Za-z0-9_-]*|[\[\](),:.*]|\S")
_KIND = {"'": "str", "t": "typed", "h": "typed", "b": "typed", "+": "num", "-": "num",
         "!": "op", "=": "op", "<": "op", ">": "op"}
_SINGLE = re.compile(r"\[\s*([A-Za-z_][\w-]*):([A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|'[^'\\]*'))*)"
                     r"\s*=\s*'((?:[^'\\]|\\['\\])*)'\s*\]")
"""The most common pattern, one equality test: read without the parser."""
_UNESCAPE = re.compile(r"\\(['\\])")
_COMBINE = frozenset({"AND", "OR", "FOLLOWEDBY"})
_ORDER = frozenset({"<", ">", "<=", ">="})
_STRING_OPS = frozenset({"LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"})
_IP_KINDS = frozenset({"ipv4", "ipv6", GUESS})
_VIA = "pattern"

Token = tuple[str, str]


class PatternError(ValueError):
    pass


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    for tok in _TOKEN.findall(text):
        first = tok[0]
        kind = _KIND.get(first)
        if kind == "typed" and len(tok) == 1 or kind is None:
            kind = ("num" if first.isdigit() else "id" if first.isalpha() or first == "_"
                    else "punct" if first in "[](),:.*" else "bad")
        elif kind == "typed" and tok[1] != "'":
            kind = "id"
        elif (kind == "num" or kind == "str") and len(tok) == 1:
            kind = "bad"
        if kind == "bad":
            raise PatternError(f"unexpected character {first!r}")
        out.append((kind, tok))
    return out


def _string(token: str) -> str:
    inner = token[1:-1]
    return _UNESCAPE.sub(_unescaped, inner) if "\\" in inner else inner


def _unescaped(m: re.Match[str]) -> str:
    return m[1]


class _Parser:
    """The grammar of STIX 2.1 §9.3 (cti-pattern-validator STIXPattern.g4), flattened."""

    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.i = 0
        self.found: list[tuple[str, list[str | int], str, list[Any]]] = []

    def peek(self) -> Token:
        return self.t[self.i] if self.i < len(self.t) else ("end", "")

    def take(self) -> Token:
        tok = self.peek()
        if tok[0] == "end":
            raise PatternError("the pattern ends too early")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise PatternError(f"expected {text!r}")

    def pattern(self) -> None:
        self.observations()
        if self.i != len(self.t):
            raise PatternError("text after the end of the pattern")

    def observations(self) -> None:
        self.observation()
        while self.peek()[1] in _COMBINE:
            self.take()
            self.observation()

    def observation(self) -> None:
        _, text = self.take()
        if text == "[":
            self.comparisons()
            self.expect("]")
        elif text == "(":
            self.observations()
            self.expect(")")
        else:
            raise PatternError("an observation starts with '[' or '('")
        self.qualifiers()

    def qualifiers(self) -> None:
        while True:
            word = self.peek()[1]
            if word == "WITHIN":
                self.take()
                if self.take()[0] != "num":
                    raise PatternError("WITHIN needs a number")
                self.expect("SECONDS")
            elif word == "REPEATS":
                self.take()
                if not self.take()[1].isdigit():
                    raise PatternError("REPEATS needs a whole number")
                self.expect("TIMES")
            elif word == "START":
                self.take()
                if not self.take()[1].startswith("t'"):
                    raise PatternError("START needs a timestamp")
                self.expect("STOP")
                if not self.take()[1].startswith("t'"):
                    raise PatternError("STOP needs a timestamp")
            else:
                return

    def comparisons(self) -> None:
        self.comparison()
        while self.peek()[1] in ("AND", "OR"):
            self.take()
            self.comparison()

    def comparison(self) -> None:
        if self.peek()[1] == "(":
            self.take()
            self.comparisons()
            self.expect(")")
            return
        if self.peek()[1] == "EXISTS":
            self.take()
            self.path()
            return
        obj_type, path = self.path()
        negated = self.peek()[1] == "NOT"
        if negated:
            self.take()
        _, op = self.take()
        if op in ("=", "!=", "<>") or op in _ORDER:
            values = [self.literal()]
        elif op == "IN":
            values = self.set_literal()
        elif op in _STRING_OPS:
            tok = self.take()
            if tok[0] != "str":
                raise PatternError(f"{op} needs a string")
            values = [_string(tok[1])]
        else:
            raise PatternError("expected a comparison operator")
        if not negated and op in ("=", "IN", "ISSUBSET"):
            self.found.append((obj_type, path, op, values))

    def path(self) -> tuple[str, list[str | int]]:
        kind, obj_type = self.take()
        if kind != "id":
            raise PatternError("an object path starts with an object type")
        self.expect(":")
        kind, first = self.take()
        if kind not in ("id", "str") or (kind == "id" and "-" in first):
            raise PatternError("bad first path component")
        path: list[str | int] = [_string(first) if kind == "str" else first]
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, step = self.take()
                if kind not in ("id", "str"):
                    raise PatternError("bad path step")
                path.append(_string(step) if kind == "str" else step)
            else:
                kind, index = self.take()
                if index == "*":
                    path.append("*")
                elif kind == "num" and "." not in index:
                    path.append(int(index))
                else:
                    raise PatternError("bad list index")
                self.expect("]")
        return obj_type, path

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return _string(text)
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "typed" or text in ("true", "false"):
            return None  # binary, hex, timestamp and boolean values identify nothing
        raise PatternError("expected a literal")

    def set_literal(self) -> list[Any]:
        self.expect("(")
        values: list[Any] = []
        if self.peek()[1] == ")":
            self.take()
            return values
        values.append(self.literal())
        while self.peek()[1] == ",":
            self.take()
            values.append(self.literal())
        self.expect(")")
        return values


_PROPERTY_KIND = {("file", "name"): "file-name", ("directory", "path"): "directory",
                  ("mutex", "name"): "mutex", ("windows-registry-key", "key"):
                  "windows-registry-key", ("user-account", "account_login"): "user-account",
                  ("x509-certificate", "serial_number"): "x509-serial",
                  ("software", "cpe"): "cpe", ("artifact", "url"): "url",
                  ("autonomous-system", "number"): "asn", ("ipv4-addr", "value"): "ipv4",
                  ("ipv6-addr", "value"): "ipv6", ("domain-name", "value"): "domain",
                  ("url", "value"): "url", ("email-addr", "value"): "email",
                  ("mac-addr", "value"): "mac"}


def _kind(obj_type: str, path: list[str | int]) -> str | None:
    """The kind of observable an object path holds, or None if it identifies nothing."""
    last = path[-1]
    if len(path) >= 2 and path[-2] == "hashes" and isinstance(last, str):
        return "hash:" + last
    if len(path) == 1:
        return _PROPERTY_KIND.get((obj_type, str(last)))
    refs = [p for p in path[:-1] if isinstance(p, str) and p.endswith(("_ref", "_refs"))]
    if refs and last == "value":
        return GUESS
    if refs and last == "path" and refs[-1] == path[-2]:
        return "directory"
    return None


def _observables(found: list[tuple[str, list[str | int], str, list[Any]]]) -> Iterator[Observable]:
    for obj_type, path, op, values in found:
        kind = _kind(obj_type, path)
        if kind is None or (op == "ISSUBSET" and kind not in _IP_KINDS):
            continue
        for value in values:
            if value is None or isinstance(value, float):
                continue
            if kind == GUESS:
                yield from guessed(value, _VIA)
            else:
                yield from of_kind(kind, value, _VIA)


def _fallback(text: str) -> list[tuple[str, list[str | int], str, list[Any]]]:
    """Ask stix2patterns (the OASIS validator) what our parser refused."""
    try:
        from stix2patterns.v21.pattern import Pattern

        data = Pattern(text).inspect()
    except Exception:  # noqa: BLE001 - an invalid pattern indexes nothing
        return []
    out: list[tuple[str, list[str | int], str, list[Any]]] = []
    for obj_type, tests in data.comparisons.items():
        for path, op, literal in tests:
            if op not in ("=", "IN", "ISSUBSET"):
                continue
            steps = ["*" if not isinstance(p, (str, int)) else p for p in path]
            try:
                parser = _Parser(_tokens(literal))
                values = parser.set_literal() if op == "IN" else [parser.literal()]
            except PatternError:
                continue
            out.append((obj_type, steps, op, values))
    return out


@functools.lru_cache(maxsize=8192)
def pattern_observables(text: str) -> tuple[Observable, ...]:
    """The observables a STIX pattern tests for equality (empty for an invalid one)."""
    single = _SINGLE.fullmatch(text)
    if single is not None:
        path: list[str | int] = [_string(p) if p[0] == "'" else p
                                 for p in single[2].split(".")]
        value = single[3]
        found = [(single[1], path, "=", [_UNESCAPE.sub(_unescaped, value) if "\\" in value
                                         else value])]
    else:
        try:
            parser = _Parser(_tokens(text))
            parser.pattern()
            found = parser.found
        except PatternError:
            found = _fallback(text)
    return unique(_observables(found))


def comparisons(text: str) -> list[tuple[str, list[str | int], str, list[Any]]]:
    """The positive =/IN/ISSUBSET comparisons of a pattern (for tests and explain)."""
    try:
        parser = _Parser(_tokens(text))
        parser.pattern()
        return parser.found
    except PatternError:
        return _fallback(text)


@functools.lru_cache(maxsize=8192)
def pattern_error(text: str) -> str | None:
    """Why `text` is not a valid STIX 2.1 pattern (STIX §9), or None when it is.

    Patterns our parser reads are valid; anything else is judged by stix2-patterns, the
    OASIS validator (slow, so only for the unusual ones; results are cached).
    """
    if _SINGLE.fullmatch(text) is not None:
        return None
    try:
        _Parser(_tokens(text)).pattern()
        return None
    except PatternError:
        pass
    from stix2patterns.validator import run_validator

    try:
        errors = run_validator(text, stix_version="2.1")
    except Exception as exc:  # noqa: BLE001 - the validator's own failure is a refusal
        return f"the pattern could not be checked: {exc}"
    return "; ".join(str(e) for e in errors)[:500] or None
