"""The search index in SQL, for both engines: written with each version, then queried.

A mixin like `storage.registry`: an engine provides `engine`, `_mark`, `_all` and
`_write()`.  Index rows are written by `_add_index`, which each engine's `add_objects`
calls inside the transaction that stores the versions (so the index never disagrees
with the objects), and they go with their version (ON DELETE CASCADE; on SQLite a
trigger empties the FTS5 row).

Every query joins `objects` and carries the caller's `Scope` compiled here: whole
collections by id, and a partner's collections each with `policy_sql.visible_sql` —
the same predicate as TAXII reads — so result lists, counts and facets never include
what the caller may not see.  Only the latest version of each object answers unless a
query asks for all versions.  Queries run in two phases: first the matching
`date_added` keys (small rows, ranked and limited in the database), then the bodies of
the few kept.

Full text: SQLite FTS5 (`MATCH`, ranked by bm25 with column weights 10/4/1) and
PostgreSQL (`@@` on a tsvector, ranked by ts_rank with weights 1/0.4/0.1), over the
same tokens (see `search.text`), so the same query matches the same rows; the ranks
are each engine's own, ties broken by newest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from liaison.search.observables import block_starts, span
from liaison.storage.base import IndexedValue
from liaison.storage.policy_sql import visible_sql
from liaison.storage.search_base import (
    Atom,
    Facets,
    FoundRow,
    Group,
    Scope,
    SearchSpec,
    ValueHit,
    ValueKey,
)

_CHUNK = 500
_RANGE_KEYS = 24
"""Address keys per range query (each brings up to 129 block starts)."""
FACET_CAP = 10000
"""Counts stop here (`Facets.capped`): a count never costs more than this many rows."""
GAP = "\u2063"
_FIRST = "WITH v AS MATERIALIZED "
"""Lookups read the observable index first, then join the few objects it names (a
materialised CTE is an optimisation fence on both engines, and SQLite keeps the written
order of a CROSS JOIN: whatever the statistics, a lookup never starts from a scan of a
collection)."""
_SQLITE_RANK = "bm25(search_text, 10.0, 4.0, 1.0)"
_PG_WEIGHTS = "'{0.0, 0.1, 0.4, 1.0}'"


# -- the engines' forms of a document and of a query ---------------------------------------
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


class SearchSQL:
    engine: str
    _mark: str
    index_enabled: bool = True
    """False while the setting `search_index` is off: stored versions get no index rows."""

    def _all(self, query: str, params: Sequence[object] = ()) -> list[Any]: ...
    def _write(self) -> AbstractContextManager[Any]: ...

    def _marks(self, n: int) -> str:
        return ",".join([self._mark] * n)

    # -- writing ---------------------------------------------------------------------
    def _add_index(self, tx: Any, rows: Sequence[Any]) -> None:
        """Index rows of newly stored versions (`versions.PlannedRow`), inside the
        transaction that stores them (nothing while the setting search_index is off)."""
        if not self.index_enabled:
            return
        values = [(r.date_added, *o) for r in rows for o in r.source.observables]
        docs = [(r.date_added, r.source.search) for r in rows if r.source.search]
        self._write_index(tx, values, docs)

    def _write_index(self, tx: Any, values: list[tuple[Any, ...]],
                     docs: list[tuple[int, tuple[str, str, str]]]) -> None:
        self._note_spans(tx, {span(v[3], v[4]) for v in values if v[3] is not None})
        if self.engine == "sqlite":
            if values:
                tx.executemany("INSERT INTO observables (date_added, kind, value, lo, hi, via) "
                               "VALUES (?, ?, ?, ?, ?, ?)", values)
            if docs:
                tx.executemany("INSERT INTO search_text (rowid, names, terms, prose) "
                               "VALUES (?, ?, ?, ?)", [(d, *f) for d, f in docs])
            return
        if values:
            with tx.copy("COPY observables (date_added, kind, value, lo, hi, via) FROM STDIN "
                         "(FORMAT BINARY)") as copy:
                copy.set_types(["bigint", "text", "text", "bytea", "bytea", "text"])
                for row in values:
                    copy.write_row(row)
        if docs:
            with tx.copy("COPY search_text (date_added, doc) FROM STDIN") as copy:
                for d, f in docs:
                    copy.write_row((d, tsvector(f)))

    def _note_spans(self, tx: Any, spans: set[int]) -> None:
        """Record the block sizes of new address rows in `observable_spans` (only the
        ones it lacks: once a feed's sizes are known, ingest writes nothing there)."""
        if not spans:
            return
        known = {int(r[0]) for r in tx.execute("SELECT span FROM observable_spans").fetchall()}
        new = sorted(spans - known)
        if not new:
            return
        rows = ", ".join(f"({self._mark})" for _ in new)
        conflict = " ON CONFLICT (span) DO NOTHING"
        tx.execute(f"INSERT INTO observable_spans (span) VALUES {rows}{conflict}", new)

    def _spans(self) -> set[int]:
        return {int(r[0]) for r in self._all("SELECT span FROM observable_spans")}

    def index_pending(self, after: int, limit: int) -> list[tuple[int, str, bytes]]:
        """(date_added, type, body) of stored versions after `after` (for `reindex`)."""
        m = self._mark
        return [(int(d), t, bytes(b)) for d, t, b in self._all(
            f"SELECT date_added, type, body FROM objects WHERE date_added > {m} "
            f"ORDER BY date_added LIMIT {m}", (after, limit))]

    def replace_index(self, entries: Sequence[tuple[int, tuple[IndexedValue, ...],
                                                    tuple[str, str, str] | None]]) -> None:
        """Rewrite the index rows of the given versions (one transaction)."""
        keys = [e[0] for e in entries]
        with self._write() as tx:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = self._marks(len(chunk))
                tx.execute(f"DELETE FROM observables WHERE date_added IN ({marks})", chunk)
                col = "rowid" if self.engine == "sqlite" else "date_added"
                tx.execute(f"DELETE FROM search_text WHERE {col} IN ({marks})", chunk)
            self._write_index(tx, [(d, *o) for d, obs, _ in entries for o in obs],
                              [(d, f) for d, _, f in entries if f])

    # -- scope ---------------------------------------------------------------------------
    def _scope(self, scope: Scope, alias: str) -> tuple[str, list[object]]:
        """What the caller may see of rows aliased `alias` (AND it into a WHERE)."""
        m = self._mark
        parts: list[str] = []
        params: list[object] = []
        if scope.whole:
            parts.append(f"{alias}.cid IN ({self._marks(len(scope.whole))})")
            params += scope.whole
        for cid, vis in scope.released:
            pred, p = visible_sql(vis, alias, m)
            parts.append(f"({alias}.cid = {m} AND {pred})")
            params += [cid, *p]
        if not parts:
            return "1 = 0", []
        return "(" + " OR ".join(parts) + ")", params

    def _found(self, keys: Sequence[int], scope: Scope) -> dict[int, FoundRow]:
        """The rows of the given (already admitted) versions, with the first version of
        each object in its collection that the caller may see.  (`date_added + 0` keeps
        SQLite from finding that minimum by walking a whole collection in date order: the
        few versions of one object are found by (cid, stix_id).)"""
        out: dict[int, FoundRow] = {}
        seen_pred, seen_params = self._scope(scope, "o2")
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            rows = self._all(
                "SELECT o.date_added, o.cid, o.stix_id, o.version_text, o.type, o.origin, "
                "o.body, (SELECT MIN(o2.date_added + 0) FROM objects o2 WHERE o2.cid = o.cid AND "
                f"o2.stix_id = o.stix_id AND {seen_pred}) FROM objects o "
                f"WHERE o.date_added IN ({self._marks(len(chunk))})", [*seen_params, *chunk])
            for d, cid, sid, ver, typ, origin, body, first in rows:
                out[int(d)] = FoundRow(int(d), int(cid), sid, ver, typ, origin, bytes(body),
                                       int(first if first is not None else d))
        return out

    # -- lookup --------------------------------------------------------------------------
    def lookup_values(self, keys: Sequence[ValueKey], scope: Scope, per_value: int,
                      all_versions: bool = False) -> list[ValueHit]:
        """Visible object versions mentioning each value, newest first, at most
        `per_value` + 1 per value (the extra one tells the caller there is more)."""
        if scope.empty or not keys:
            return []
        found: dict[int, list[tuple[int, str, str, str]]] = {}
        self._lookup_exact(keys, scope, per_value + 1, all_versions, found)
        self._lookup_ranges(keys, scope, per_value + 1, all_versions, found)
        wanted = [d for hits in found.values() for d, *_ in hits]
        rows = self._found(wanted, scope)
        out: list[ValueHit] = []
        for key, hits in found.items():
            for d, kind, value, via in hits:
                r = rows[d]
                out.append(ValueHit(key, d, r.cid, r.stix_id, r.version, r.origin, r.body,
                                    kind, value, via, r.first_seen))
        return out

    def _latest(self, all_versions: bool) -> str:
        return "" if all_versions else " AND o.is_latest = 1"

    def _lookup_exact(self, keys: Sequence[ValueKey], scope: Scope, cap: int,
                      all_versions: bool, found: dict[int, list[tuple[int, str, str, str]]],
                      ) -> None:
        """Values without bounds, through the partial index `observables_by_value`
        (`lo IS NULL`: addresses and blocks are only in `observables_by_range`)."""
        by_kinds: dict[tuple[str, ...], dict[str, list[int]]] = {}
        for k in keys:
            for value in k.exact:
                by_kinds.setdefault(k.kinds, {}).setdefault(value, []).append(k.key)
        pred, pparams = self._scope(scope, "o")
        m = self._mark
        for kinds, by_value in by_kinds.items():
            values = list(by_value)
            kind_sql = f" AND kind IN ({self._marks(len(kinds))})" if kinds else ""
            for i in range(0, len(values), _CHUNK):
                chunk = values[i : i + _CHUNK]
                rows = self._all(
                    f"{_FIRST}(SELECT value, kind, via, date_added FROM observables WHERE "
                    f"value IN ({self._marks(len(chunk))}){kind_sql} AND lo IS NULL) "
                    "SELECT value, kind, via, date_added FROM (SELECT v.value, v.kind, v.via, "
                    "v.date_added, ROW_NUMBER() OVER (PARTITION BY v.value ORDER BY "
                    "v.date_added DESC) AS rn FROM v CROSS JOIN objects o WHERE o.date_added = "
                    f"v.date_added{self._latest(all_versions)} AND {pred}) h "
                    f"WHERE rn <= {m}", [*chunk, *kinds, *pparams, cap])
                for value, kind, via, d in rows:
                    for key in by_value[value]:
                        found.setdefault(key, []).append((int(d), kind, value, via))
        for key, hits in found.items():  # a key with several exact forms: one list
            found[key] = sorted({h[0]: h for h in reversed(hits)}.values(),
                                key=lambda h: -h[0])[:cap]

    def _lookup_ranges(self, keys: Sequence[ValueKey], scope: Scope, cap: int,
                       all_versions: bool, found: dict[int, list[tuple[int, str, str, str]]],
                       ) -> None:
        nets = [k for k in keys if k.lo is not None]
        pred, pparams = self._scope(scope, "o")
        latest = self._latest(all_versions)
        m = self._mark
        cols = ("SELECT v.lo, v.hi, v.value, v.kind, v.via, v.date_added FROM v CROSS JOIN "
                f"objects o WHERE o.date_added = v.date_added{latest} AND {pred}")
        held = self._spans() if nets else set()
        for i in range(0, len(nets), _RANGE_KEYS):
            batch = nets[i : i + _RANGE_KEYS]
            by_start: dict[bytes, list[ValueKey]] = {}
            for k in batch:
                assert k.lo is not None and k.hi is not None
                for s in block_starts(k.lo, k.hi, k.bits, held):
                    by_start.setdefault(s, []).append(k)
            starts = sorted(by_start)
            rows = []
            if starts:
                low = min(k.hi for k in batch if k.hi is not None)
                rows = self._all(
                    f"{_FIRST}(SELECT lo, hi, value, kind, via, date_added FROM observables "
                    f"WHERE lo IN ({self._marks(len(starts))}) AND hi >= {m}) {cols}",
                    [*starts, low, *pparams])
            hits: dict[int, dict[int, tuple[int, str, str, str]]] = {}
            for lo, hi, value, kind, via, d in rows:
                for k in by_start.get(bytes(lo), ()):
                    if k.hi is not None and bytes(hi) >= k.hi:
                        hits.setdefault(k.key, {})[int(d)] = (int(d), kind, value, via)
            for k in batch:
                if k.inside and k.lo is not None and k.hi is not None:
                    for lo, hi, value, kind, via, d in self._all(
                            f"{_FIRST}(SELECT lo, hi, value, kind, via, date_added FROM "
                            f"observables WHERE lo >= {m} AND lo <= {m} AND hi <= {m}) "
                            f"{cols} ORDER BY v.date_added DESC LIMIT {m}",
                            [k.lo, k.hi, k.hi, *pparams, cap]):
                        hits.setdefault(k.key, {})[int(d)] = (int(d), kind, value, via)
            for key, by_date in hits.items():
                merged = {h[0]: h for h in found.get(key, [])}
                merged.update(by_date)
                found[key] = sorted(merged.values(), key=lambda h: -h[0])[:cap]

    # -- correlation -----------------------------------------------------------------------
    def object_rows(self, stix_id: str, scope: Scope) -> list[FoundRow]:
        """The latest version of an object in each collection of the scope holding it."""
        if scope.empty:
            return []
        pred, params = self._scope(scope, "o")
        rows = self._all(f"SELECT o.date_added FROM objects o WHERE o.stix_id = {self._mark} "
                         f"AND o.is_latest = 1 AND {pred} ORDER BY o.cid",
                         [stix_id, *params])
        found = self._found([int(r[0]) for r in rows], scope)
        return [found[int(r[0])] for r in rows]

    def observables_at(self, keys: Sequence[int]) -> list[tuple[int, IndexedValue]]:
        """The indexed values of the given versions."""
        out: list[tuple[int, IndexedValue]] = []
        for i in range(0, len(keys), _CHUNK):
            chunk = list(keys[i : i + _CHUNK])
            for d, kind, value, lo, hi, via in self._all(
                    "SELECT date_added, kind, value, lo, hi, via FROM observables WHERE "
                    f"date_added IN ({self._marks(len(chunk))}) ORDER BY kind, value", chunk):
                out.append((int(d), (kind, value, None if lo is None else bytes(lo),
                                     None if hi is None else bytes(hi), via)))
        return out

    def relations(self, stix_ids: Sequence[str], scope: Scope, limit: int) -> list[FoundRow]:
        """Visible relationships and sightings (latest versions) naming any of the ids as
        an endpoint, newest first, at most `limit` + 1."""
        if scope.empty or not stix_ids:
            return []
        pred, params = self._scope(scope, "o")
        ids = list(dict.fromkeys(stix_ids))[:_CHUNK]
        marks = self._marks(len(ids))
        rows = self._all(
            "SELECT o.date_added FROM objects o WHERE o.date_added IN (SELECT date_added FROM "
            f"objects WHERE ref_a IN ({marks}) UNION SELECT date_added FROM objects WHERE "
            f"ref_b IN ({marks})) AND o.is_latest = 1 AND {pred} "
            f"ORDER BY o.date_added DESC LIMIT {self._mark}", [*ids, *ids, *params, limit + 1])
        found = self._found([int(r[0]) for r in rows], scope)
        return [found[int(r[0])] for r in rows]

    def latest_rows(self, stix_ids: Sequence[str], scope: Scope) -> list[FoundRow]:
        """The latest visible versions of the given ids (every collection of the scope)."""
        if scope.empty or not stix_ids:
            return []
        pred, params = self._scope(scope, "o")
        out: list[int] = []
        ids = list(dict.fromkeys(stix_ids))
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            out += [int(r[0]) for r in self._all(
                f"SELECT o.date_added FROM objects o WHERE o.stix_id IN "
                f"({self._marks(len(chunk))}) AND o.is_latest = 1 AND {pred}",
                [*chunk, *params])]
        found = self._found(out, scope)
        return [found[d] for d in out]

    # -- full text -------------------------------------------------------------------------
    def _search_from(self, spec: SearchSpec) -> tuple[str, str, list[object], str, list[object]]:
        """(FROM, WHERE, params, rank expression, rank params) of a search."""
        m = self._mark
        sqlite = self.engine == "sqlite"
        where: list[str] = []
        params: list[object] = []
        rank, rank_params = "0", []
        if spec.has_text:
            if sqlite:
                source = "search_text s CROSS JOIN objects o ON o.date_added = s.rowid"
                where.append(f"search_text MATCH {m}")
                params.append(fts5_query(spec.groups))
                rank = _SQLITE_RANK
            else:
                source = "search_text s JOIN objects o ON o.date_added = s.date_added"
                text = ts_query(spec.groups)
                where.append(f"s.doc @@ CAST({m} AS tsquery)")
                params.append(text)
                rank = f"ts_rank({_PG_WEIGHTS}::float4[], s.doc, CAST({m} AS tsquery), 1)"
                rank_params = [text]
        else:
            source = "objects o"
            if any(g.negated for g in spec.groups):
                inner = ("SELECT rowid FROM search_text WHERE search_text MATCH " if sqlite
                         else "SELECT date_added FROM search_text WHERE doc @@ CAST(")
                close = m if sqlite else f"{m} AS tsquery)"
                where.append(f"o.date_added NOT IN ({inner}{close})")
                params.append(fts5_query(spec.groups, False) if sqlite
                              else ts_query(spec.groups, False))
        if not spec.all_versions:
            where.append("o.is_latest = 1")
        if spec.types:
            where.append(f"o.type IN ({self._marks(len(spec.types))})")
            params += spec.types
        if spec.tlps:
            where.append("COALESCE(o.tlp, (SELECT c.default_tlp FROM collections c WHERE "
                         f"c.cid = o.cid)) IN ({self._marks(len(spec.tlps))})")
            params += spec.tlps
        if spec.origins is not None:
            named = [o for o in spec.origins if o is not None]
            alts = ["o.origin IS NULL"] if None in spec.origins else []
            if named:
                alts.append(f"o.origin IN ({self._marks(len(named))})")
                params += named
            where.append("(" + " OR ".join(alts or ["1 = 0"]) + ")")
        if spec.after is not None:
            where.append(f"o.date_added >= {m}")
            params.append(spec.after)
        if spec.before is not None:
            where.append(f"o.date_added < {m}")
            params.append(spec.before)
        pred, pparams = self._scope(spec.scope, "o")
        where.append(pred)
        params += pparams
        return source, " AND ".join(where), params, rank, rank_params

    def search_page(self, spec: SearchSpec) -> tuple[list[FoundRow], bool]:
        """One page of a search (ranked, or newest first), and whether there is more."""
        if spec.scope.empty:
            return [], False
        source, where, params, rank, rank_params = self._search_from(spec)
        direction = "ASC" if self.engine == "sqlite" else "DESC"
        order = ("o.date_added DESC" if spec.newest_first or rank == "0"
                 else f"r {direction}, o.date_added DESC")
        rows = self._all(
            f"SELECT o.date_added, {rank} AS r FROM {source} WHERE {where} ORDER BY {order} "
            f"LIMIT {self._mark} OFFSET {self._mark}",
            [*rank_params, *params, spec.limit + 1, spec.offset])
        keys = [int(r[0]) for r in rows]
        found = self._found(keys[: spec.limit], spec.scope)
        return [found[d] for d in keys[: spec.limit]], len(keys) > spec.limit

    def search_facets(self, spec: SearchSpec) -> Facets:
        """How many matches the caller may see (up to `FACET_CAP`), by type, collection
        and TLP rank (the collection default for unmarked objects)."""
        if spec.scope.empty:
            return Facets(0, False)
        source, where, params, _, _ = self._search_from(spec)
        rows = self._all(
            "SELECT o.type, o.cid, COALESCE(o.tlp, (SELECT c.default_tlp FROM collections c "
            f"WHERE c.cid = o.cid)) FROM {source} WHERE {where} LIMIT {self._mark}",
            [*params, FACET_CAP + 1])
        capped = len(rows) > FACET_CAP
        rows = rows[:FACET_CAP]
        return Facets(len(rows), capped, _count(r[0] for r in rows),
                      _count(int(r[1]) for r in rows),
                      _count(None if r[2] is None else int(r[2]) for r in rows))


def _count(items: Iterator[Any]) -> tuple[tuple[Any, int], ...]:
    counts: dict[Any, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))
