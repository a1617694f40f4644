"""Tokens for full-text search, made once in Python so both engines index the same terms.

A token is a maximal run of Unicode letters and digits, case-folded, with diacritics
removed (``Café`` → ``cafe``); everything else separates tokens (``evil.com`` is the
two tokens ``evil com``, which a query for ``evil.com`` finds as a phrase).  Query
tokens longer than `MAX_TOKEN` characters are dropped (so longer ones in a document,
which may or may not be indexed, can never be asked for).

A document field is text for SQLite FTS5's ``ascii`` tokenizer, which splits on ASCII
non-alphanumerics only and folds ASCII case: plain ASCII text is handed over as it is
(it splits exactly as above, at no Python cost), other text as the tokens made here,
joined by spaces (kept verbatim).  PostgreSQL gets a ``tsvector`` built from the same
text by the same rule (`storage.search_fts.fts_tokens`), with no parser or dictionary
in between.  Both engines therefore hold identical terms at identical positions, and
the same query matches the same documents on both.

A document has three fields, by weight: `NAMES` (name, aliases), `TERMS` (labels,
vocabulary types, external ids such as CVE or ATT&CK ids, observable values) and
`PROSE` (description and other long text, the pattern).  Separate values of a field
are kept apart by `GAP` (a phrase never spans two aliases); each field is capped at a
number of tokens so that every position fits PostgreSQL's limit (16,383).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_TOKEN = 200
GAP = "\u2063"
"""Separator between values of one field: a token no query can produce (not alphanumeric)."""
LIMITS = (500, 2000, 12000)
"""Tokens kept per field (names, terms, prose): together below PostgreSQL's 16,383."""
_CHARS_PER_TOKEN = 32
"""Characters kept per field: `limit` × this (PostgreSQL's tsvector stops at 1 MB)."""

_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"[^\W_]+")
_SEP = "\x1f"
_GAP_TEXT = " \u2063 "
_ASCII_FIELD = re.compile(r"[a-z0-9]+|\x1f")
_FIELD = re.compile(r"[^\W_]+|\x1f")

NAME_PROPS = ("name", "aliases", "x_mitre_aliases")
TERM_PROPS = ("labels", "indicator_types", "malware_types", "threat_actor_types",
              "tool_types", "report_types", "infrastructure_types", "identity_class",
              "sectors", "roles", "goals", "capabilities", "implementation_languages",
              "architecture_execution_envs", "account_login", "key", "path", "x_mitre_id")
"""(Identifying values come normalised from the object's observables.)"""
PROSE_PROPS = ("description", "pattern", "abstract", "content", "explanation", "objective",
               "opinion", "result", "summary", "title", "command_line", "subject")


_FIELD_OF = {**{p: 0 for p in NAME_PROPS}, **{p: 1 for p in TERM_PROPS},
             **{p: 2 for p in PROSE_PROPS}}
_ALL_PROPS = frozenset(_FIELD_OF)
_ORDER = {p: n for n, p in enumerate((*NAME_PROPS, *TERM_PROPS, *PROSE_PROPS))}


def _fold(text: str) -> str:
    # Decompose first: compatibility forms (U+1D608 MATHEMATICAL SANS-SERIF ITALIC
    # CAPITAL A) only become letters with a case (A) once decomposed.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in folded if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The tokens of `text` in order."""
    found = (_ASCII_TOKEN.findall(text.lower()) if text.isascii()
             else _TOKEN.findall(_fold(text)))
    if len(text) > MAX_TOKEN and found and max(map(len, found)) > MAX_TOKEN:
        return [t for t in found if len(t) <= MAX_TOKEN]
    return found


def field(values: list[str], limit: int) -> str:
    """One field: the values' tokens, values separated by `GAP`, at most `limit` tokens.

    The result is text for FTS5's `ascii` tokenizer (`storage.search_fts.fts_tokens`):
    short ASCII text is passed as it is (that tokenizer splits it exactly as `tokens`
    does, and fewer characters than `limit` cannot make more tokens than `limit`);
    anything else is tokenised here and the tokens joined by spaces.  A value without
    tokens leaves an extra `GAP` (both engines see the same stream)."""
    text = values[0] if len(values) == 1 else _SEP.join(values)
    if len(text) <= limit and text.isascii():
        return text.replace(_SEP, _GAP_TEXT) if len(values) > 1 else text
    found = (_ASCII_FIELD.findall(text.lower()) if text.isascii()
             else _FIELD.findall(_fold(text)))
    if len(text) > MAX_TOKEN and found and max(map(len, found)) > MAX_TOKEN:
        found = [t for t in found if len(t) <= MAX_TOKEN]
    if len(found) > limit:
        del found[limit:]
    if sum(map(len, found)) > limit * _CHARS_PER_TOKEN:  # keep a tsvector under 1 MB
        budget = limit * _CHARS_PER_TOKEN
        for n, token in enumerate(found):
            budget -= len(token)
            if budget < 0:
                del found[n:]
                break
    out = " ".join(found)
    return out.replace(_SEP, GAP) if len(values) > 1 else out


def external_ids(obj: dict[str, Any]) -> list[str]:
    refs = obj.get("external_references")
    if not isinstance(refs, list):
        return []
    return [r["external_id"] for r in refs
            if isinstance(r, dict) and isinstance(r.get("external_id"), str)]


def document(obj: dict[str, Any], observed: list[str]) -> tuple[str, str, str] | None:
    """The three fields of an object's search document (see the module docstring), or
    None when the object has no text at all (most relationships)."""
    present = _ALL_PROPS.intersection(obj)
    refs = "external_references" in obj
    if not present and not observed and not refs:
        return None
    buckets: tuple[list[str], list[str], list[str]] = ([], [], [])
    for prop in sorted(present, key=_ORDER.__getitem__) if len(present) > 1 else present:
        value = obj[prop]
        if isinstance(value, str):
            buckets[_FIELD_OF[prop]].append(value)
        elif isinstance(value, list):
            buckets[_FIELD_OF[prop]].extend(v for v in value if isinstance(v, str))
    names, terms, prose = buckets
    if refs:
        terms.extend(external_ids(obj))
    terms.extend(observed)
    out = (field(names, LIMITS[0]) if names else "", field(terms, LIMITS[1]) if terms else "",
           field(prose, LIMITS[2]) if prose else "")
    return out if out != _EMPTY else None


_EMPTY = ("", "", "")


def display_name(obj: dict[str, Any]) -> str | None:
    """What to call an object in a result list: its name, else its identifying value."""
    for prop in ("name", "value", "title", "abstract", "key", "path", "account_login",
                 "relationship_type"):
        value = obj.get(prop)
        if isinstance(value, str) and value:
            return value
    if obj.get("type") == "autonomous-system" and isinstance(obj.get("number"), int):
        return f"AS{obj['number']}"
    hashes = obj.get("hashes")
    if isinstance(hashes, dict) and hashes:
        alg = min(hashes)
        return f"{alg}:{hashes[alg]}"
    return None
