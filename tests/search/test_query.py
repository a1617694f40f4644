"""Tokens (search.text), the search language (search.query) and its compilation to each
engine's syntax (storage.search_sql).  Pure: no node."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.errors import BadRequest
from liaison.search.query import parse
from liaison.search.text import GAP, LIMITS, MAX_TOKEN, document, field, tokens
from liaison.stix.timestamps import parse_timestamp
from liaison.storage.search_base import Atom, Group
from liaison.storage.search_fts import fts5_query, fts_tokens, ts_query, tsvector


def test_tokens() -> None:
    assert tokens("Cobalt-Strike beacon_v2 (evil.com)") == ["cobalt", "strike", "beacon", "v2",
                                                            "evil", "com"]
    assert tokens("Café MÜNCHEN straße") == ["cafe", "munchen", "strasse"]
    assert tokens("ＡＰＴ２８") == ["apt28"]  # full-width forms fold (NFKD)
    assert tokens("2001:DB8::1") == ["2001", "db8", "1"]
    assert tokens("x" * (MAX_TOKEN + 1) + " kept") == ["kept"]
    assert tokens("!!! ...") == []


def test_fields_keep_values_apart_and_cap_tokens() -> None:
    assert fts_tokens(field(["APT 28", "Fancy Bear"], 10)) == ["apt", "28", GAP, "fancy",
                                                               "bear"]
    assert fts_tokens(field(["one two three"], 2)) == ["one", "two"]
    assert fts_tokens(field(["Café", "x"], 10)) == ["cafe", GAP, "x"]
    assert field(["solo"], 10) == "solo"


@given(st.lists(st.text(st.characters(exclude_characters="\x1f"), max_size=40), min_size=1,
                max_size=4), st.integers(1, 60))
@settings(max_examples=300, deadline=None)
def test_a_field_is_tokenised_alike_by_both_paths(values: list[str], limit: int) -> None:
    """Whether a field is handed over as text or as tokens, FTS5's ascii tokenizer (as
    `fts_tokens` reproduces it) sees the tokens of `search.text.tokens` with a GAP
    between values, and at most `limit` of them.  (U+001F, the separator used inside a
    field, also separates values when a value holds it.)"""
    expected: list[str] = []
    for n, v in enumerate(values):
        expected += ([GAP] if n else []) + tokens(v)
    got = fts_tokens(field(values, limit))
    assert len(got) <= limit
    assert got == expected[: len(got)]
    if len(expected) <= limit:
        assert got == expected


def test_document_fields_by_weight() -> None:
    obj = {"type": "malware", "name": "Emotet", "aliases": ["Geodo", "Heodo"],
           "labels": ["banker"], "malware_types": ["trojan"],
           "description": "Spreads by e-mail.", "external_references": [
               {"source_name": "mitre-attack", "external_id": "S0367"}, {"source_name": "x"}]}
    doc = document(obj, ["evil.example"])
    assert doc is not None
    names, terms, prose = (fts_tokens(f) for f in doc)
    assert names == ["emotet", GAP, "geodo", GAP, "heodo"]
    assert set(terms) - {GAP} == {"banker", "trojan", "s0367", "evil", "example"}
    assert prose == ["spreads", "by", "e", "mail"]
    assert document({"type": "relationship"}, []) is None
    long = document({"description": "w " * 20000}, [])
    assert long is not None and len(fts_tokens(long[2])) == LIMITS[2]


def test_tsvector_holds_the_fts5_positions() -> None:
    def entries(literal: str) -> set[tuple[str, int, str]]:
        out = set()
        for part in literal.split(" "):
            lexeme, _, where = part.rpartition(":")
            out.add((lexeme.strip("'"), int(where[:-1]), where[-1]))
        return out

    assert entries(tsvector(("APT 28", f"x {GAP} y", "apt"))) == {
        ("apt", 2, "A"), ("28", 3, "A"), ("x", 5, "B"), ("y", 7, "B"), ("apt", 9, "C")}
    assert entries(tsvector(("", "", "例え " + "z" * 2100 + " end"))) == {
        ("例え", 2, "C"), ("end", 4, "C")}


def _words(q: str) -> list[tuple[tuple[tuple[str, ...], ...], bool]]:
    return [(tuple(a.tokens for a in g.atoms), g.negated) for g in parse(q).groups]


def test_words_phrases_or_and_exclusions() -> None:
    assert _words("apt OR fin7 loader") == [((("apt",), ("fin7",)), False),
                                            ((("loader",),), False)]
    assert _words('"cobalt strike" -test') == [((("cobalt", "strike"),), False),
                                               ((("test",),), True)]
    assert _words("evil.com") == [((("evil", "com"),), False)]
    assert _words("hxxp://evil[.]com/x") == [((("http", "evil", "com", "x"),), False)]
    assert _words("2001:DB8:0::1") == [((("2001", "db8", "1"),), False)]
    assert parse("emot*").groups == (Group((Atom(("emot",), True),)),)
    assert parse('"evil co"*').groups == (Group((Atom(("evil", "co"), True),)),)
    assert _words("cve:2021-44228") == [((("cve", "2021", "44228"),), False)]
    assert _words("--- OR") == []


def test_filters() -> None:
    q = parse('type:indicator,Malware type:tool tlp:GREEN tlp:white from:us from:acme '
              'collection:"Main Coll" collection:other after:2024-01-01 before:2024-03-01')
    assert q.types == ("indicator", "malware", "tool")
    assert q.tlps == (0, 1)
    assert q.origins == ("us", "acme")
    assert q.collections == ("Main Coll", "other")
    assert q.after == parse_timestamp("2024-01-01T00:00:00Z")
    assert q.before == parse_timestamp("2024-03-01T00:00:00Z")
    day = 86_400_000_000
    assert parse("added>2024-01-01").after == parse_timestamp("2024-01-01T00:00:00Z") + day
    assert parse("added<=2024-01-01").before == parse_timestamp("2024-01-01T00:00:00Z") + day
    assert parse("added>=2024-01-01T10:00:00Z added>=2024-01-02").after == \
        parse_timestamp("2024-01-02T00:00:00Z")
    assert parse("added<2024-01-01T10:00:00Z").before == \
        parse_timestamp("2024-01-01T10:00:00Z")
    assert not parse("type:malware").groups and not parse("type:malware").empty
    assert parse("").empty


@pytest.mark.parametrize(("text", "says"), [
    ('"unclosed', "unclosed quote"),
    ("tlp:purple", "unknown TLP level"),
    ("after:yesterday", "needs a date"),
    ("type:", "needs a value"),
    ("a OR -b", "excluded word"),
    ("-type:malware", "cannot be excluded"),
    ("a OR type:malware", "cannot be excluded or part of an OR"),
    ("x " * 70, "more than 64"),
    ("x" * 2001, "longer than"),
])
def test_bad_queries_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        parse(text)


def test_compiled_for_each_engine() -> None:
    groups = parse('apt OR "fancy bear" emot* -test').groups
    assert fts5_query(groups) == '(("apt" OR "fancy bear") AND ("emot"*)) NOT ("test")'
    assert ts_query(groups) == "(('apt') | ('fancy' <-> 'bear')) & (('emot':*)) & !(('test'))"
    assert fts5_query(groups, positive=False) == '("test")'
    assert ts_query(groups, positive=False) == "(('test'))"


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
               max_size=60))
@settings(max_examples=300, deadline=None)
def test_fts_tokens_is_what_fts5_makes(text: str) -> None:
    """`fts_tokens` (which builds PostgreSQL's tsvector) reproduces SQLite FTS5's `ascii`
    tokenizer token for token, position for position, on any text."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'ascii')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
    db.execute("INSERT INTO t (rowid, x) VALUES (1, ?)", (text,))
    made = [term for term, in db.execute("SELECT term FROM v ORDER BY offset")]
    assert made == fts_tokens(text)
