"""Observable lookup, full-text search and correlation: the analyst's questions, policy-checked.

Part of the one door (`Exchange.finder`): every face asks here, and the answers are
computed with the caller's rights pushed into the query (`storage.search_base.Scope`):
local users see the collections their grants let them read, partners what their active
agreements release (the TAXII predicate, `storage.policy_sql`), and nobody learns
anything — an object, a name, a count or a facet — about the rest.  An unknown value
is "not seen", never an error.  What leaves for a partner is recorded before it leaves
(a "release" audit entry per collection, channel "lookup", "search" or "correlate"),
so `liaison audit who-received` lists these answers too.

Origins are named for local users (this node, or which partner); a partner is told
only "local" (this node), "you" (its own material) or "partner" (someone else's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from liaison.access import Access, Rights
from liaison.audit.context import draft
from liaison.cursor import Cursors, fingerprint
from liaison.errors import BadRequest, NotFound, Unavailable
from liaison.search import observables as ob
from liaison.search.index import entry as index_entry
from liaison.search.probes import Probe, probe
from liaison.search.query import Query, parse
from liaison.search.text import display_name
from liaison.stix.markings import TLP_LEVELS, tlp_level_of_marking
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage.base import Principal, Store
from liaison.storage.search_base import FoundRow, Scope, SearchSpec, ValueHit, ValueKey
from liaison.storage.search_sql import FACET_CAP

MAX_VALUES = 10000
"""Values in one lookup request (a file of thousands is sent in batches of this)."""
PER_VALUE, MAX_PER_VALUE = 20, 500
SEARCH_LIMIT, MAX_SEARCH_LIMIT = 20, 200
CORRELATE_LIMIT, MAX_CORRELATE_LIMIT = 50, 500
_CURSOR_SCOPE = "liaison-search"


def _ts(us: int) -> str:
    return format_taxii_timestamp(us)


@dataclass(frozen=True, slots=True)
class Seen:
    """How the caller may see the collections (and partners) an answer names."""

    accesses: dict[int, Access]
    partner_id: str | None
    partner_names: dict[str, str]

    def origin(self, origin: str | None) -> str:
        if origin is None:
            return "local"
        if self.partner_id is not None:
            return "you" if origin == self.partner_id else "partner"
        return self.partner_names.get(origin, "partner")

    def item(self, row: FoundRow | ValueHit) -> dict[str, Any]:
        """One object version as answers show it (no body: id, name, markings, …)."""
        obj = orjson.loads(row.body)
        coll = self.accesses[row.cid].collection
        marks = [m for m in obj.get("object_marking_refs", []) if isinstance(m, str)]
        levels = [TLP_LEVELS.index(lv) for m in marks if (lv := tlp_level_of_marking(m))]
        out: dict[str, Any] = {
            "id": row.stix_id, "type": obj.get("type"), "name": display_name(obj),
            "version": row.version, "collection": coll.id, "collection_alias": coll.alias,
            "markings": marks,
            "tlp": TLP_LEVELS[max(levels)] if levels else TLP_LEVELS[coll.default_tlp],
            "tlp_from": "markings" if levels else "collection default",
            "origin": self.origin(row.origin), "first_seen": _ts(row.first_seen),
            "last_seen": _ts(row.date_added)}
        if obj.get("revoked") is True:
            out["revoked"] = True
        return out


@dataclass(slots=True)
class Released:
    """Versions answered to a partner, per collection, for the release audit entry."""

    versions: dict[int, list[list[str]]] = field(default_factory=dict)

    def add(self, row: FoundRow | ValueHit) -> None:
        pair = [row.stix_id, row.version]
        found = self.versions.setdefault(row.cid, [])
        if pair not in found:
            found.append(pair)


INDEX_STATE = "search_index_state"
"""Meta key: 'stale' once objects may have been stored with the index switched off."""


class Finder:
    """Lookup, search and correlation for one node (see the module docstring)."""

    def __init__(self, store: Store, rights: Rights, cursors: Cursors) -> None:
        self.store = store
        self.rights = rights
        self.cursors = cursors

    # -- who sees what ----------------------------------------------------------------
    def _usable(self) -> None:
        """Answer from the index only when it is complete: switched off, or switched
        back on without a rebuild, it would miss objects and answer "not seen"."""
        if not self.store.index_enabled:
            raise Unavailable("the search index is switched off on this node "
                              "(setting search_index), so lookup, search and correlation "
                              "are not available")
        if self.store.get_meta(INDEX_STATE) == "stale":
            raise Unavailable("the search index misses objects stored while it was switched "
                              "off; the node administrator must run 'liaison db reindex'")

    def _scope(self, principal: Principal) -> tuple[Scope, Seen]:
        self._usable()
        readable = [a for a in self.rights.all(principal) if a.can_read]
        whole = tuple(a.collection.cid for a in readable if a.visibility is None)
        released = tuple((a.collection.cid, a.visibility) for a in readable
                         if a.visibility is not None)
        partner = self.rights.partner_of(principal)
        names = {} if partner else {p.id: p.name for p in self.store.list_partners()}
        return (Scope(whole, released),
                Seen({a.collection.cid: a for a in readable},
                     partner.id if partner else None, names))

    def _record(self, seen: Seen, released: Released, channel: str) -> None:
        """The release entries for a partner's answer, written before it is sent."""
        if seen.partner_id is None or not released.versions:
            return
        drafts = []
        for cid, versions in released.versions.items():
            access = seen.accesses[cid]
            assert access.partner is not None and access.visibility is not None
            drafts.append(draft(
                "release", access.collection.id, partner=access.partner.name,
                partner_id=access.partner.id, org=access.partner.org_identity,
                channel=channel, kind=channel,
                agreements=[t.agreement_id for t in access.visibility.terms],
                versions=versions))
        self.store.record(drafts)

    # -- lookup -----------------------------------------------------------------------
    def lookup(self, principal: Principal, values: Sequence[str], *, kind: str | None = None,
               limit: int | None = None, all_versions: bool = False) -> list[dict[str, Any]]:
        """For each value: the visible objects that mention it (newest first)."""
        if len(values) > MAX_VALUES:
            raise BadRequest(f"at most {MAX_VALUES} values per lookup (got {len(values)}) — "
                             "send them in batches")
        per_value = max(1, min(limit or PER_VALUE, MAX_PER_VALUE))
        probes = [probe(v, kind) for v in values]
        scope, seen = self._scope(principal)
        hits = self.store.lookup_values([_key(n, p) for n, p in enumerate(probes)], scope,
                                        per_value, all_versions)
        by_key: dict[int, list[ValueHit]] = {}
        for h in hits:
            by_key.setdefault(h.key, []).append(h)
        released = Released()
        answers = []
        for n, p in enumerate(probes):
            found = by_key.get(n, [])
            items = []
            for h in found[:per_value]:
                released.add(h)
                item = seen.item(h)
                item["matched"] = {"kind": h.kind, "value": h.value, "via": h.via}
                items.append(item)
            answer: dict[str, Any] = {"value": p.asked, "normalised": p.normal,
                                      "kind": p.kind, "seen": bool(items), "hits": items,
                                      "more": len(found) > per_value}
            if items:
                answer["first_seen"] = min(i["first_seen"] for i in items)
                answer["last_seen"] = max(i["last_seen"] for i in items)
            answers.append(answer)
        self._record(seen, released, "lookup")
        return answers

    # -- search -------------------------------------------------------------------------
    def search(self, principal: Principal, text: str, *, limit: int | None = None,
               next: str | None = None, facets: bool = False, newest: bool = False,
               all_versions: bool = False) -> dict[str, Any]:
        """One page of a full-text search, ranked (or newest first), with the count of
        every visible match (up to `FACET_CAP`) and, on request, facets."""
        query = parse(text)
        if query.empty:
            raise BadRequest("the query is empty: give words to look for or filters")
        size = max(1, min(limit or SEARCH_LIMIT, MAX_SEARCH_LIMIT))
        key = fingerprint("search", text, newest, all_versions)
        offset = 0
        if next is not None:
            offset = self.cursors.open(next, collection=_CURSOR_SCOPE, principal=principal.id,
                                       query=key)
        if offset >= FACET_CAP:
            raise BadRequest(f"search pages stop at {FACET_CAP} results — narrow the query")
        size = min(size, FACET_CAP - offset)  # the last page ends at the cap
        scope, seen = self._scope(principal)
        spec = replace(self._spec(query, scope, seen), newest_first=newest,
                       all_versions=all_versions, limit=size, offset=offset)
        rows, more, counted = self.store.search(spec)
        released = Released()
        results = []
        for r in rows:
            released.add(r)
            results.append(seen.item(r))
        self._record(seen, released, "search")
        out: dict[str, Any] = {"query": text, "total": counted.total,
                               "total_capped": counted.capped, "results": results,
                               "more": more}
        if more:
            out["next"] = self.cursors.mint(collection=_CURSOR_SCOPE, principal=principal.id,
                                            query=key, position=offset + size)
        if facets:
            colls = seen.accesses
            out["facets"] = {
                "type": dict(counted.by_type),
                "collection": {colls[c].collection.alias or colls[c].collection.id: n
                               for c, n in counted.by_collection},
                "tlp": {TLP_LEVELS[t] if t is not None else "unknown": n
                        for t, n in counted.by_tlp}}
        return out

    def _spec(self, query: Query, scope: Scope, seen: Seen) -> SearchSpec:
        cids: tuple[int, ...] | None = None
        if query.collections:
            wanted = set(query.collections)
            cids = tuple(c for c, a in seen.accesses.items()
                         if a.collection.id in wanted or a.collection.alias in wanted)
        origins: tuple[str | None, ...] | None = None
        if query.origins:
            found: list[str | None] = []
            by_name = {v: k for k, v in seen.partner_names.items()}
            for name in query.origins:
                if name.lower() in ("us", "local"):
                    found.append(None)
                elif name.lower() in ("me", "you") and seen.partner_id is not None:
                    found.append(seen.partner_id)
                elif seen.partner_id is None and name in by_name:
                    found.append(by_name[name])
            origins = tuple(found)  # unknown names (and others' names for partners): nothing
        return SearchSpec(scope.narrowed(cids), query.groups, query.types, query.tlps,
                          origins, query.after, query.before)

    # -- correlation -------------------------------------------------------------------
    def correlate(self, principal: Principal, object_id: str, *,
                  collection: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """The visible objects sharing an observable value with an object (an address
        also meets the blocks that contain it, a block what lies inside it), and the
        relationships and sightings around it.  Computed from the index at query time."""
        size = max(1, min(limit or CORRELATE_LIMIT, MAX_CORRELATE_LIMIT))
        scope, seen = self._scope(principal)
        if collection is not None:
            cids = tuple(c for c, a in seen.accesses.items()
                         if collection in (a.collection.id, a.collection.alias))
            if not cids:
                raise NotFound(f"collection '{collection}' not found")
            scope = scope.narrowed(cids)
        rows = self.store.object_rows(object_id, scope)
        if not rows:
            raise NotFound(f"object '{object_id}' not found")
        values = _distinct(v for _, v in self.store.observables_at([r.date_added for r in rows]))
        keys = [_value_key(n, v) for n, v in enumerate(values)]
        hits = self.store.lookup_values(keys, scope, size)
        released = Released()
        for r in rows:
            released.add(r)
        shared, counts = self._shared(hits, object_id, seen, released, size)
        relations, more_relations = self._relations(object_id, scope, seen, released, size)
        self._record(seen, released, "correlate")
        return {
            "object": seen.item(rows[0]),
            "collections": [seen.accesses[r.cid].collection.id for r in rows],
            "observables": [{"kind": v[0], "value": v[1], "via": v[4],
                             "shared_with": counts.get(n, 0),
                             "more": counts.get(n, 0) > size} for n, v in enumerate(values)],
            "shared": shared[:size], "shared_more": len(shared) > size,
            "relationships": relations, "relationships_more": more_relations}

    def _shared(self, hits: Iterable[ValueHit], object_id: str, seen: Seen,
                released: Released, size: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
        by_object: dict[tuple[int, str], tuple[ValueHit, list[dict[str, str]]]] = {}
        counts: dict[int, int] = {}
        for h in hits:
            if h.stix_id == object_id:
                continue
            counts[h.key] = counts.get(h.key, 0) + 1
            entry = by_object.setdefault((h.cid, h.stix_id), (h, []))
            match = {"kind": h.kind, "value": h.value, "via": h.via}
            if match not in entry[1]:
                entry[1].append(match)
        ordered = sorted(by_object.values(), key=lambda e: (-len(e[1]), -e[0].date_added))
        out = []
        for h, matches in ordered[: size + 1]:
            if len(out) < size:
                released.add(h)
            item = seen.item(h)
            item["shared"] = matches
            out.append(item)
        return out, {k: min(v, size + 1) for k, v in counts.items()}

    def _relations(self, object_id: str, scope: Scope, seen: Seen, released: Released,
                   size: int) -> tuple[list[dict[str, Any]], bool]:
        rows = self.store.relations([object_id], scope, size)
        more = len(rows) > size
        rows = rows[:size]
        bodies = {r.date_added: orjson.loads(r.body) for r in rows}
        others = set()
        for r in rows:
            body = bodies[r.date_added]
            for ref in (body.get("source_ref"), body.get("target_ref"),
                        body.get("sighting_of_ref")):
                if isinstance(ref, str) and ref != object_id:
                    others.add(ref)
        ends = {e.stix_id: e for e in self.store.latest_rows(sorted(others), scope)}
        out = []
        for r in rows:
            released.add(r)
            body = bodies[r.date_added]
            item = seen.item(r)
            if r.type == "sighting":
                item["relationship_type"] = "sighting-of"
                item["direction"] = "incoming"
                other = None
            else:
                item["relationship_type"] = body.get("relationship_type")
                outgoing = body.get("source_ref") == object_id
                item["direction"] = "outgoing" if outgoing else "incoming"
                other = body.get("target_ref") if outgoing else body.get("source_ref")
            if other is not None and other != object_id:
                end = ends.get(other)
                item["other"] = {"id": other, "type": other.split("--", 1)[0],
                                 "name": display_name(orjson.loads(end.body)) if end else None}
                if end is not None:
                    released.add(end)
            out.append(item)
        return out, more

    # -- maintenance (node-local: the CLI) ---------------------------------------------
    def reindex(self, batch: int = 1000) -> int:
        """Rebuild the index rows of every stored version (after an upgrade to schema 5,
        or a change of the normal forms); returns how many versions were indexed."""
        after, done = 0, 0
        while True:
            rows = self.store.index_pending(after, batch)
            if not rows:
                if self.store.index_enabled:
                    self.store.set_meta(INDEX_STATE, "complete")
                return done
            entries = []
            for date_added, type_, body in rows:
                obj = orjson.loads(body)
                category = "sco" if type_ in ob.INDEXED_SCO_TYPES else "other"
                observed, fields = index_entry(obj, category)
                entries.append((date_added, observed, fields))
            self.store.replace_index(entries)
            done += len(rows)
            after = rows[-1][0]


def _key(n: int, p: Probe) -> ValueKey:
    if p.net is not None and p.net.lo is not None and p.net.hi is not None:
        return ValueKey(n, (), (), p.net.lo, p.net.hi, p.net.lo != p.net.hi,
                        ob.family_bits(p.net.kind))
    return ValueKey(n, p.exact, p.kinds)


def _distinct(values: Iterable[tuple[str, str, bytes | None, bytes | None, str]],
              ) -> list[tuple[str, str, bytes | None, bytes | None, str]]:
    seen: dict[tuple[str, str], tuple[str, str, bytes | None, bytes | None, str]] = {}
    for v in values:
        seen.setdefault((v[0], v[1]), v)
    return list(seen.values())


def _value_key(n: int, v: tuple[str, str, bytes | None, bytes | None, str]) -> ValueKey:
    kind, value, lo, hi, _via = v
    if lo is not None and hi is not None:
        return ValueKey(n, (), (), lo, hi, lo != hi, ob.family_bits(kind))
    return ValueKey(n, (value,), (kind,))
