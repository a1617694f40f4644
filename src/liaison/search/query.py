"""The search language: words, phrases, OR, exclusions and filters (pure, no I/O).

Grammar (whitespace separates clauses; every clause must hold)::

    query   = clause { clause }
    clause  = filter | [ "-" ] group
    group   = atom { "OR" atom }                 one of the atoms matches
    atom    = word [ "*" ] | '"' words '"' [ "*" ]
    filter  = key ":" value { "," value }       any of the values
            | key ":" '"' text '"'
            | "added" ( ">" | ">=" | "<" | "<=" ) date
    key     = "type" | "tlp" | "from" | "collection" | "after" | "before"

- A word or phrase is split into tokens as the index is (`search.text`): ``evil.com``
  is the phrase ``evil com``; an address or URL is first put in its normal form
  (``2001:DB8::1`` finds ``2001:db8::1``) and defanged input is re-fanged
  (``hxxp://evil[.]com``).  ``emot*`` matches words starting with ``emot``.
- ``-word`` excludes; ``a OR b`` (uppercase) needs either; ``OR`` binds tighter than
  the implicit AND: ``apt OR fin7 loader`` is ``(apt OR fin7) AND loader``.
- Filters: ``type:indicator,malware``; ``tlp:green`` (the object's TLP, an unmarked
  object's being its collection's default); ``from:us`` (this node's own material),
  ``from:NAME`` (a partner's), ``from:me`` (a partner caller's own); ``collection:``
  an id or alias; ``after:2024-01-01`` (added on or after), ``before:`` (added
  before), ``added>=…``, ``added<…``; dates are days (midnight UTC) or timestamps.
  A filter repeated ORs its values; different filters AND.  An unknown ``key:`` is
  an ordinary word.  A query of filters only lists matching objects newest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liaison.errors import BadRequest
from liaison.search.probes import normal_word
from liaison.search.text import tokens
from liaison.stix.markings import TLP_LEVELS
from liaison.stix.timestamps import parse_timestamp
from liaison.storage.search_base import Atom, Group

MAX_QUERY = 2000
MAX_CLAUSES = 64
FILTERS = ("type", "tlp", "from", "collection", "after", "before")
_CLAUSE = re.compile(r'''(?P<neg>-?)(?:(?P<key>[A-Za-z_]+):"(?P<kv>[^"]*)"|"(?P<phrase>[^"]*)"(?P<star>\*?)|(?P<word>[^\s"]+))''')
_ADDED = re.compile(r"added(>=|<=|>|<)(.+)", re.IGNORECASE)
_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search query (filters still as typed; the finder resolves names)."""

    groups: tuple[Group, ...] = ()
    types: tuple[str, ...] = ()
    tlps: tuple[int, ...] = ()
    origins: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    after: int | None = None
    before: int | None = None

    @property
    def empty(self) -> bool:
        return not self.groups and not (self.types or self.tlps or self.origins
                                         or self.collections or self.after is not None
                                         or self.before is not None)


def _date(text: str, what: str) -> int:
    t = text.strip()
    try:
        return parse_timestamp(t if "T" in t else t + "T00:00:00Z")
    except ValueError:
        raise BadRequest(f"'{what}' needs a date (2024-12-31) or a UTC timestamp "
                         f"(2024-12-31T08:00:00Z), not {text!r}") from None


def _tlp(level: str) -> int:
    name = level.strip().lower().removeprefix("tlp:")
    name = "clear" if name == "white" else name
    if name not in TLP_LEVELS:
        raise BadRequest(f"unknown TLP level {level!r} in the query — use one of "
                         f"{', '.join(TLP_LEVELS)}")
    return TLP_LEVELS.index(name)


def _atom(text: str, prefix: bool) -> Atom | None:
    found = tokens(normal_word(text)) if " " not in text.strip() else tokens(text)
    if not found:
        return None
    return Atom(tuple(found), prefix)


class _Builder:
    def __init__(self) -> None:
        self.groups: list[Group] = []
        self.filters: dict[str, list[str]] = {k: [] for k in FILTERS}
        self.after: int | None = None
        self.before: int | None = None

    def add_filter(self, key: str, value: str) -> None:
        if key in ("after", "before"):
            self.bound(">=" if key == "after" else "<", value)
            return
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not values:
            raise BadRequest(f"the filter '{key}:' needs a value")
        self.filters[key] += values

    def bound(self, op: str, value: str) -> None:
        at = _date(value, "added" + op)
        if op in (">", "<=") and "T" not in value:
            at += _DAY  # a day: after it means from the next midnight
        elif op == ">" or op == "<=":
            at += 1
        if op in (">=", ">"):
            self.after = at if self.after is None else max(self.after, at)
        else:
            self.before = at if self.before is None else min(self.before, at)

    def query(self) -> Query:
        f = self.filters
        return Query(tuple(self.groups), tuple(dict.fromkeys(t.lower() for t in f["type"])),
                     tuple(sorted({_tlp(t) for t in f["tlp"]})),
                     tuple(dict.fromkeys(f["from"])), tuple(dict.fromkeys(f["collection"])),
                     self.after, self.before)


def parse(text: str) -> Query:
    """Parse a search query; a sentence naming the problem if it cannot be used."""
    if len(text) > MAX_QUERY:
        raise BadRequest(f"the query is longer than {MAX_QUERY} characters")
    if text.count('"') % 2:
        raise BadRequest('the query has an unclosed quote (")')
    b = _Builder()
    pending: list[Atom] = []
    negated = False
    join = False
    clauses = 0

    def close() -> None:
        nonlocal pending, negated
        if pending:
            b.groups.append(Group(tuple(pending), negated))
        pending, negated = [], False

    for m in _CLAUSE.finditer(text):
        clauses += 1
        if clauses > MAX_CLAUSES:
            raise BadRequest(f"the query has more than {MAX_CLAUSES} words and filters")
        word, neg = m["word"], m["neg"] == "-"
        if word == "OR" and not neg:
            join = bool(pending)
            continue
        key = m["key"] or (word.split(":", 1)[0] if word and ":" in word else None)
        added = _ADDED.fullmatch(word) if word else None
        is_filter = (key is not None and key.lower() in FILTERS) or added is not None
        if is_filter and (neg or join):
            raise BadRequest("a filter cannot be excluded or part of an OR: "
                             f"{m.group()!r}")
        if key is not None and key.lower() in FILTERS:
            value = m["kv"] if m["key"] else word.split(":", 1)[1]
            b.add_filter(key.lower(), value)
            continue
        if added is not None:
            b.bound(added[1], added[2])
            continue
        if m["key"]:
            atom = _atom(f'{m["key"]} {m["kv"]}', False)
        elif m["phrase"] is not None:
            atom = _atom(m["phrase"], bool(m["star"]))
        else:
            star = word.endswith("*") and len(word) > 1
            atom = _atom(word[:-1] if star else word, star)
        if atom is None:
            join = False
            continue
        if join and (neg or negated):
            raise BadRequest("an excluded word cannot be part of an OR")
        if join:
            pending.append(atom)
        else:
            close()
            pending, negated = [atom], neg
        join = False
    close()
    return b.query()
