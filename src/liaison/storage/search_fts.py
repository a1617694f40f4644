"""The two engines' forms of a search document and of a query, from the same tokens.

SQLite's FTS5 (`ascii` tokenizer) and PostgreSQL (a `tsvector` literal built here, no
parser or dictionary in between) hold identical terms at identical positions, so the
same query text (`fts5_query`, `ts_query`) matches the same documents on both; see
`search.text` for how the tokens are made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from liaison.storage.search_base import Atom, Group

GAP = "\u2063"
_FTS_TOKEN = re.compile(r"[^\x00-/:-@\[-`{-\x7f]+")
"""ASCII letters and digits, and anything not ASCII (a negated class: faster to match)."""
_MAX_LEXEME = 2000
"""PostgreSQL lexemes stop at 2,047 bytes: a longer token keeps its position, unindexed
(no query can ask for it: query tokens stop at `search.text.MAX_TOKEN`)."""


def fts_tokens(text: str) -> list[str]:
    """The tokens FTS5's `ascii` tokenizer makes of a field: maximal runs of ASCII
    letters and digits and non-ASCII characters, ASCII letters folded to lowercase."""
    folded = text.lower() if text.isascii() else text.encode().lower().decode()
    return _FTS_TOKEN.findall(folded)  # (bytes.lower folds ASCII letters only)


def tsvector(fields: tuple[str, str, str]) -> str:
    """A PostgreSQL tsvector literal holding exactly the tokens FTS5 makes of the three
    fields, at the positions FTS5 sees them (a gap between fields and between values).
    One entry per occurrence: PostgreSQL merges a lexeme's positions on input."""
    parts: list[str] = []
    pos = 0
    for weight, text in zip("ABC", fields, strict=True):
        if not text:
            continue
        tokens = fts_tokens(text)
        parts += [f"'{t}':{n}{weight}" for n, t in enumerate(tokens, pos + 2)
                  if t != GAP and (len(t) <= _MAX_LEXEME // 4 or len(t.encode()) <= _MAX_LEXEME)]
        pos += len(tokens) + 1
    return " ".join(parts)


def _fts5_atom(a: Atom) -> str:
    return '"' + " ".join(a.tokens) + '"' + ("*" if a.prefix else "")


def _ts_atom(a: Atom) -> str:
    parts = [f"'{t}'" for t in a.tokens]
    if a.prefix:
        parts[-1] += ":*"
    return " <-> ".join(parts)


def fts5_query(groups: Sequence[Group], positive: bool = True) -> str:
    """FTS5 MATCH text: the positive groups ANDed, NOT each negated group (or, with
    `positive` False, the negated groups ORed, for a NOT IN)."""
    def group(g: Group) -> str:
        return "(" + " OR ".join(_fts5_atom(a) for a in g.atoms) + ")"

    if not positive:
        return " OR ".join(group(g) for g in groups if g.negated)
    text = " AND ".join(group(g) for g in groups if not g.negated)
    for g in groups:
        if g.negated:
            text = f"({text}) NOT {group(g)}"
    return text


def ts_query(groups: Sequence[Group], positive: bool = True) -> str:
    """The same as `fts5_query`, as tsquery input text."""
    def group(g: Group) -> str:
        return "(" + " | ".join(f"({_ts_atom(a)})" for a in g.atoms) + ")"

    if not positive:
        return " | ".join(group(g) for g in groups if g.negated)
    parts = [group(g) for g in groups if not g.negated]
    parts += ["!" + group(g) for g in groups if g.negated]
    return " & ".join(parts)
