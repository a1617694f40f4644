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
`date_added` keys (small rows), then the bodies of the few kept.  Both phases are
bounded whatever the size of the store: a lookup reads each value's index entries
newest first and stops at its cap; a search reads the newest `FACET_CAP` matches and
ranks and counts those.

Full text: SQLite FTS5 (`MATCH`, ranked by bm25 with column weights 10/4/1) and
PostgreSQL (`@@` on a tsvector, ranked by ts_rank with weights 1/0.4/0.1), over the
same tokens (`storage.search_fts`, from `search.text`), so the same query matches the
same rows; the ranks are each engine's own, ties broken by newest first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from liaison.search.observables import containing_blocks, span
from liaison.storage.base import IndexedValue
from liaison.storage.policy_sql import visible_sql
from liaison.storage.search_base import (
    Facets,
    FoundRow,
    Scope,
    SearchSpec,
    ValueHit,
    ValueKey,
)
from liaison.storage.search_fts import fts5_query, ts_query, tsvector

_CHUNK = 500
_TERMS = 32
"""Index keys per lookup statement (`SearchSQL._newest`): one subquery each."""
FACET_CAP = 10000
"""Counts stop here (`Facets.capped`): a count never costs more than this many rows."""
_SQLITE_RANK = "bm25(search_text, 10.0, 4.0, 1.0)"
_PG_WEIGHTS = "'{0.0, 0.1, 0.4, 1.0}'"


def _pg_rank(doc: str, mark: str) -> str:
    """PostgreSQL's rank of the tsvector column `doc` against the query parameter."""
    return f"ts_rank({_PG_WEIGHTS}::float4[], {doc}, CAST({mark} AS tsquery), 1)"


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
        each object in its collection that the caller may see: the row itself when it is
        the object's only version there (first and latest: most objects, no index probe),
        else the earliest visible one.  (`date_added + 0` keeps SQLite from finding that
        minimum by walking a whole collection in date order: the few versions of one
        object are found by (cid, stix_id).)"""
        out: dict[int, FoundRow] = {}
        seen_pred, seen_params = self._scope(scope, "o2")
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            rows = self._all(
                "SELECT o.date_added, o.cid, o.stix_id, o.version_text, o.type, o.origin, "
                "o.body, CASE WHEN o.is_first = 1 AND o.is_latest = 1 THEN o.date_added ELSE "
                "(SELECT MIN(o2.date_added + 0) FROM objects o2 WHERE o2.cid = o.cid AND "
                f"o2.stix_id = o.stix_id AND {seen_pred}) END FROM objects o "
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

    def _newest(self, key: str, scope: Scope, all_versions: bool, cap: int,
                keys: Sequence[list[object]]) -> list[tuple[int, str, str, str, int]]:
        """The newest visible versions (at most `cap`) mentioning each index key, as
        (key number, value, kind, via, date_added).  `key` is the condition on the
        observable row `v` with the parameters of each entry of `keys` (a value, or one
        address block).

        One subquery per key, joined by UNION ALL, `_TERMS` to a statement: each reads
        its key's index range backwards (newest first, the index holding `date_added`
        after the key) and stops at the cap, so a value mentioned by a million objects
        costs what one mentioned by twenty does.  SQLite keeps the written order of a
        CROSS JOIN: a lookup starts from the index, never from a collection."""
        pred, pparams = self._scope(scope, "o")
        m = self._mark
        one = ("SELECT v.value, v.kind, v.via, v.date_added FROM observables v CROSS JOIN "
               f"objects o WHERE {key} AND o.date_added = v.date_added"
               f"{self._latest(all_versions)} AND {pred} "
               f"ORDER BY v.date_added DESC LIMIT {m}")
        out: list[tuple[int, str, str, str, int]] = []
        for i in range(0, len(keys), _TERMS):
            chunk = keys[i : i + _TERMS]
            text = " UNION ALL ".join(f"SELECT {n} AS t, k{n}.* FROM ({one}) k{n}"
                                      for n in range(len(chunk)))
            params = [p for k in chunk for p in (*k, *pparams, cap)]
            out += [(i + int(t), value, kind, via, int(d))
                    for t, value, kind, via, d in self._all(text, params)]
        return out

    def _lookup_exact(self, keys: Sequence[ValueKey], scope: Scope, cap: int,
                      all_versions: bool, found: dict[int, list[tuple[int, str, str, str]]],
                      ) -> None:
        """Values without bounds, through the partial index `observables_by_value`
        (value, date_added) `WHERE lo IS NULL` (addresses and blocks are only in
        `observables_by_range`)."""
        by_kinds: dict[tuple[str, ...], dict[str, list[int]]] = {}
        for k in keys:
            for value in k.exact:
                by_kinds.setdefault(k.kinds, {}).setdefault(value, []).append(k.key)
        for kinds, by_value in by_kinds.items():
            values = list(by_value)
            kind_sql = f" AND v.kind IN ({self._marks(len(kinds))})" if kinds else ""
            rows = self._newest(f"v.value = {self._mark}{kind_sql} AND v.lo IS NULL", scope,
                                all_versions, cap, [[v, *kinds] for v in values])
            for n, value, kind, via, d in rows:
                for key in by_value[values[n]]:
                    found.setdefault(key, []).append((d, kind, value, via))
        for key, hits in found.items():  # a key with several exact forms: one list
            found[key] = sorted({h[0]: h for h in reversed(hits)}.values(),
                                key=lambda h: -h[0])[:cap]

    def _lookup_ranges(self, keys: Sequence[ValueKey], scope: Scope, cap: int,
                       all_versions: bool, found: dict[int, list[tuple[int, str, str, str]]],
                       ) -> None:
        """Addresses and blocks, through `observables_by_range` (lo, hi, date_added): the
        stored blocks that contain each one, probed as exact (lo, hi) pairs at the block
        sizes the store holds (`observable_spans`), and for a block what lies inside it."""
        nets = [k for k in keys if k.lo is not None]
        if not nets:
            return
        held = self._spans()
        by_block: dict[tuple[bytes, bytes], list[int]] = {}
        for k in nets:
            assert k.lo is not None and k.hi is not None
            for block in containing_blocks(k.lo, k.hi, k.bits, held):
                by_block.setdefault(block, []).append(k.key)
        blocks = list(by_block)
        m = self._mark
        hits: dict[int, dict[int, tuple[int, str, str, str]]] = {}
        for n, value, kind, via, d in self._newest(f"v.lo = {m} AND v.hi = {m}", scope,
                                                   all_versions, cap,
                                                   [list(b) for b in blocks]):
            for key in by_block[blocks[n]]:
                hits.setdefault(key, {})[d] = (d, kind, value, via)
        pred, pparams = self._scope(scope, "o")
        for k in nets:
            if k.inside:
                for value, kind, via, d in self._all(
                        "SELECT v.value, v.kind, v.via, v.date_added FROM observables v "
                        f"CROSS JOIN objects o WHERE v.lo >= {m} AND v.lo <= {m} AND "
                        f"v.hi <= {m} AND o.date_added = v.date_added"
                        f"{self._latest(all_versions)} AND {pred} "
                        f"ORDER BY v.date_added DESC LIMIT {m}",
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
                rank = _pg_rank("s.doc", m)
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

    def search(self, spec: SearchSpec) -> tuple[list[FoundRow], bool, Facets]:
        """One page of a search (ranked, or newest first), whether there is more, and
        the counts (up to `FACET_CAP`, by type, collection and TLP rank — the collection
        default for unmarked objects), from one pass over the newest `FACET_CAP` + 1
        matches the caller may see.

        Ranking orders those newest matches (as pages stop at `FACET_CAP` results, so
        does what is ranked): a search costs at most that many index entries whatever
        the size of the store — a word found in 60,000 objects of a million is not
        ranked in full (Elasticsearch's `max_result_window` is the same 10,000).  SQLite
        reads the FTS5 index newest first (rowid order, descending) and computes bm25 for
        the rows it keeps; PostgreSQL ranks after the newest have been chosen."""
        if spec.scope.empty:
            return [], False, Facets(0, False)
        source, where, params, rank, rank_params = self._search_from(spec)
        sqlite = self.engine == "sqlite"
        ranked = rank != "0" and not spec.newest_first
        newest = "s.rowid DESC" if sqlite and spec.has_text else "o.date_added DESC"
        tlp = "COALESCE(o.tlp, (SELECT c.default_tlp FROM collections c WHERE c.cid = o.cid))"
        m = self._mark
        if ranked and not sqlite:
            text = (f"SELECT n.d, {_pg_rank('n.doc', m)}, n.t, n.c, n.l FROM (SELECT "
                    f"o.date_added AS d, o.type AS t, o.cid AS c, {tlp} AS l, s.doc "
                    f"FROM {source} WHERE {where} ORDER BY {newest} LIMIT {m}) n")
            args = [*rank_params, *params, FACET_CAP + 1]
        else:
            text = (f"SELECT o.date_added, {rank if ranked else '0'}, o.type, o.cid, {tlp} "
                    f"FROM {source} WHERE {where} ORDER BY {newest} LIMIT {m}")
            args = [*(rank_params if ranked else []), *params, FACET_CAP + 1]
        rows = self._all(text, args)
        capped = len(rows) > FACET_CAP
        del rows[FACET_CAP:]
        if ranked:  # bm25: lower is better; ts_rank: higher is better; ties: newest first
            sign = 1.0 if sqlite else -1.0
            rows.sort(key=lambda r: (sign * float(r[1]), -int(r[0])))
        keys = [int(r[0]) for r in rows[spec.offset : spec.offset + spec.limit]]
        found = self._found(keys, spec.scope)
        facets = Facets(len(rows), capped, _count(r[2] for r in rows),
                        _count(int(r[3]) for r in rows),
                        _count(None if r[4] is None else int(r[4]) for r in rows))
        return [found[d] for d in keys], len(rows) > spec.offset + spec.limit, facets


def _count(items: Iterator[Any]) -> tuple[tuple[Any, int], ...]:
    counts: dict[Any, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))
