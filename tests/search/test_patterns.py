"""Indicator patterns to observables (search.patterns): the forms, what is not indexable,
and the dedicated parser held against the OASIS validator (stix2patterns) on a corpus
and on generated patterns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.v21.pattern import Pattern

from liaison.search import patterns
from liaison.search.patterns import comparisons, pattern_observables

SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

FORMS: list[tuple[str, set[tuple[str, str]]]] = [
    ("[ipv4-addr:value = '198.51.100.7']", {("ipv4", "198.51.100.7")}),
    ("[ipv4-addr:value = '198.51.100.0/24']", {("ipv4", "198.51.100.0/24")}),
    ("[ipv6-addr:value = '2001:DB8::0:1']", {("ipv6", "2001:db8::1")}),
    ("[domain-name:value = 'EVIL.example.']", {("domain", "evil.example")}),
    ("[url:value = 'HTTP://Evil.example:80']", {("url", "http://evil.example/"),
                                                ("domain", "evil.example")}),
    ("[email-addr:value = 'Bad@Evil.example']", {("email", "bad@evil.example")}),
    (f"[file:hashes.'SHA-256' = '{SHA256.upper()}']", {("hash:sha-256", SHA256)}),
    ("[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
     {("hash:md5", "d41d8cd98f00b204e9800998ecf8427e")}),
    ("[file:name = 'invoice.exe' AND file:size = 1024]", {("file-name", "invoice.exe")}),
    ("[domain-name:value IN ('a.example', 'B.example', 'a.example')]",
     {("domain", "a.example"), ("domain", "b.example")}),
    ("[ipv4-addr:value = '10.0.0.1'] OR [ipv4-addr:value = '10.0.0.2']",
     {("ipv4", "10.0.0.1"), ("ipv4", "10.0.0.2")}),
    ("[ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'x.example'] WITHIN 60 SECONDS",
     {("ipv4", "10.0.0.1"), ("domain", "x.example")}),
    (("([url:value = 'http://a.example/x'] FOLLOWEDBY [url:value = 'http://b.example/y']) "
     "REPEATS 3 TIMES"), {("url", "http://a.example/x"), ("domain", "a.example"),
                         ("url", "http://b.example/y"), ("domain", "b.example")}),
    (("[domain-name:value = 'q.example'] START t'2024-01-01T00:00:00Z' "
     "STOP t'2024-02-01T00:00:00Z'"), {("domain", "q.example")}),
    (("[(domain-name:value = 'p.example' OR domain-name:value = 'r.example') AND "
     "domain-name:resolves_to_refs[*].value = '192.0.2.1']"),
     {("domain", "p.example"), ("domain", "r.example"), ("ipv4", "192.0.2.1")}),
    ("[network-traffic:dst_ref.value = '2001:db8::2' AND network-traffic:dst_port = 443]",
     {("ipv6", "2001:db8::2")}),
    ("[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']", {("ipv4", "203.0.113.0/24")}),
    (("[email-message:from_ref.value = 'Boss@Corp.example' AND "
     "email-message:to_refs[0].value = 'x@y.example']"),
     {("email", "boss@corp.example"), ("email", "x@y.example")}),
    ("[process:image_ref.hashes.'SHA-256' = '" + SHA256 + "']", {("hash:sha-256", SHA256)}),
    (("[file:extensions.'windows-pebinary-ext'.sections[*].hashes.MD5 = '"
     "D41D8CD98F00B204E9800998ECF8427E']"), {("hash:md5", "d41d8cd98f00b204e9800998ecf8427e")}),
    ("[windows-registry-key:key = 'HKLM\\\\Software\\\\Run']",
     {("windows-registry-key", "hkey_local_machine\\software\\run")}),
    ("[autonomous-system:number = 64500]", {("asn", "64500")}),
    ("[mutex:name = 'it\\'s']", {("mutex", "it's")}),
    ("[x509-certificate:serial_number = '36:F7'] OR [software:cpe = 'CPE:2.3:A:X']",
     {("x509-serial", "36f7"), ("cpe", "cpe:2.3:a:x")}),
]
NOT_INDEXABLE = [
    "[domain-name:value LIKE '%.evil.example']",
    "[domain-name:value MATCHES '^evil']",
    "[domain-name:value != 'good.example']",
    "[domain-name:value NOT = 'good.example']",
    "[domain-name:value NOT IN ('a.example', 'b.example')]",
    "[file:size > 1000 AND file:size <= 5000]",
    "[ipv4-addr:value ISSUPERSET '10.0.0.1']",
    "[domain-name:value ISSUBSET 'evil.example']",
    "[artifact:payload_bin = b'ZXZpbA==']",
    "[file:hashes.MD5 = h'd41d8cd98f00b204e9800998ecf8427e']",
    "[process:pid = 4]",
    "[x-custom:value = 'thing']",
    "[domain-name:value = 'unterminated]",
    "not a pattern at all",
    "[domain-name:value = 'x.example'] AND",
    "",
]


@pytest.mark.parametrize(("pattern", "expected"), FORMS)
def test_pattern_forms(pattern: str, expected: set[tuple[str, str]]) -> None:
    got = pattern_observables(pattern)
    assert {(o.kind, o.value) for o in got} == expected
    assert all(o.via in ("pattern", "url-host") for o in got)


@pytest.mark.parametrize("pattern", NOT_INDEXABLE)
def test_what_is_not_indexable(pattern: str) -> None:
    assert pattern_observables(pattern) == ()


# -- the dedicated parser against stix2patterns ----------------------------------------
def _reference(text: str) -> list[tuple[str, list[Any], str]] | None:
    """stix2patterns' positive =/IN/ISSUBSET comparisons (object type, path, operator),
    or None for an invalid pattern."""
    try:
        data = Pattern(text).inspect()
    except Exception:  # noqa: BLE001
        return None
    return sorted(((t, ["*" if not isinstance(p, (str, int)) else p for p in path], op)
                   for t, tests in data.comparisons.items() for path, op, _ in tests
                   if op in ("=", "IN", "ISSUBSET")), key=repr)


def _ours(text: str) -> list[tuple[str, list[Any], str]] | None:
    try:
        parser = patterns._Parser(patterns._tokens(text))
        parser.pattern()
    except patterns.PatternError:
        return None
    return sorted(((t, p, op) for t, p, op, _ in parser.found), key=repr)


CORPUS = [p for p, _ in FORMS] + NOT_INDEXABLE + [
    "[a:b = 'x'] OR ([c:d = 1] AND [e:f IN (1, 2.5, 'z', true)]) WITHIN 5 SECONDS",
    "[a:b = 'x'] REPEATS 2 TIMES START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
    "[a:'b-c' = 'x']", "[a:b[5].c = 'x']", "[a:b = -5]", "[a:b = 'x' AND (c:d = 'y' OR e:f = 'z')]",
    "[a:b = 'x'] AND", "[a:b ='x'", "[a:b 'x']", "[a:b = 'x'] WITHIN SECONDS", "[a: = 'x']",
    "[a:b = 'x'] OR [c:d = 'y'] FOLLOWEDBY [e:f = 'z']", "[a:b = ()]", "[a:b IN ()]",
    "[EXISTS a:b]", "[a:b = 'x'] REPEATS 0.5 TIMES", "[a:b = t'2020-01-01T00:00:00Z']",
]


@pytest.mark.parametrize("text", CORPUS)
def test_the_parser_agrees_with_stix2patterns(text: str) -> None:
    """Where our parser accepts a pattern, stix2patterns finds the same comparisons; where
    it refuses one, the fallback to stix2patterns gives the reference answer."""
    ours, ref = _ours(text), _reference(text)
    if ours is None:  # refused: the fallback answers as stix2patterns does
        assert sorted(((t, p, op) for t, p, op, _ in comparisons(text)), key=repr) == (ref or [])
        return
    assert ref is not None, f"we accept a pattern stix2patterns refuses: {text!r}"
    assert ours == ref


_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_TYPE = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,5})?", fullmatch=True)
_STRING = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"),
                  max_size=12).map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'")
                                   + "'")
_LIT = st.one_of(_STRING, st.integers(-5, 99).map(str), st.sampled_from(["true", "false"]))


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    path = draw(_TYPE) + ":" + draw(_IDENT)
    for _ in range(draw(st.integers(0, 2))):
        path += draw(st.sampled_from([".", "[*]", "[0]"]))
        if path.endswith("."):
            path += draw(st.one_of(_IDENT, _STRING))
    op = draw(st.sampled_from(["=", "!=", "IN", "NOT =", "LIKE", "<", ">="]))
    if op == "IN":
        return f"{path} IN ({', '.join(draw(st.lists(_LIT, min_size=1, max_size=3)))})"
    if op == "LIKE":
        return f"{path} LIKE {draw(_STRING)}"
    if op in ("<", ">="):
        return f"{path} {op} {draw(st.integers(0, 9))}"
    return f"{path} {op} {draw(_LIT)}"


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    def observation() -> str:
        parts = draw(st.lists(_comparison(), min_size=1, max_size=3))
        joined = parts[0]
        for p in parts[1:]:
            joined += f" {draw(st.sampled_from(['AND', 'OR']))} {p}"
        text = f"[{joined}]"
        if draw(st.booleans()):
            text += draw(st.sampled_from([" WITHIN 5 SECONDS", " REPEATS 2 TIMES"]))
        return text

    out = observation()
    for _ in range(draw(st.integers(0, 2))):
        out += f" {draw(st.sampled_from(['AND', 'OR', 'FOLLOWEDBY']))} {observation()}"
    return out


@given(_pattern())
@settings(max_examples=120, deadline=None)
def test_generated_patterns_agree_with_stix2patterns(text: str) -> None:
    ours, ref = _ours(text), _reference(text)
    assert ref is not None, text  # the generator makes valid patterns only
    assert ours is not None, f"our parser refuses a valid pattern: {text!r}"
    assert ours == ref


def test_the_common_form_skips_the_parser_and_agrees_with_it() -> None:
    for text in ("[ipv4-addr:value = '10.0.0.1']", f"[file:hashes.'SHA-256' = '{SHA256}']",
                 "[url:value = 'http://x.example/a\\'b']", "[ domain-name:value='x.example' ]"):
        assert patterns._SINGLE.fullmatch(text) is not None
        fast = pattern_observables.__wrapped__(text)  # type: ignore[attr-defined]
        parser = patterns._Parser(patterns._tokens(text))
        parser.pattern()
        assert fast == tuple(patterns._observables(parser.found))


def test_a_pattern_refused_by_our_parser_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid pattern our parser does not know still indexes, through stix2patterns."""
    monkeypatch.setattr(patterns._Parser, "pattern",
                        lambda self: (_ for _ in ()).throw(patterns.PatternError("no")))
    text = "[domain-name:value = 'fallback.example'] AND [ipv4-addr:value IN ('10.9.9.9')]"
    got = pattern_observables.__wrapped__(text)  # type: ignore[attr-defined]
    assert {(o.kind, o.value) for o in got} == {("domain", "fallback.example"),
                                                ("ipv4", "10.9.9.9")}
