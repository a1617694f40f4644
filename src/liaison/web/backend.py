"""The web face's only way in: thin calls through the exchange (the one door).

Pages never touch storage.  Everything here is a call on `Exchange` (objects,
collections, partners, provenance, explanations), on its `finder` (observable lookup,
full-text search with counts, correlation: `liaison.lookup`), on the audit service
the node is composed with (as the CLI uses it), or on the federation scheduler ("sync
now").  Rows that list objects have one shape everywhere (`row`), whichever call
found them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from liaison.audit.service import Audit
from liaison.exchange import CollectionView, Exchange, Filters
from liaison.federation.status import status_rows
from liaison.node import Node
from liaison.stix.markings import TLP1_IDS, TLP2_IDS, tlp_level_of_marking
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage.base import Principal, VersionFilter
from liaison.web import stixview

STANDARD_MARKINGS = frozenset(TLP1_IDS) | frozenset(TLP2_IDS)
"""The standard TLP marking definitions a node keeps beside the objects they mark:
public, the same everywhere — not news, so lists and counts leave them out."""


def cname(view: CollectionView) -> str:
    """How pages name a collection in URLs: its alias, else its id."""
    return view.collection.alias or view.collection.id


def ts(us: int | None) -> str | None:
    return format_taxii_timestamp(us) if us is not None else None


def row(item: dict[str, Any]) -> dict[str, Any]:
    """A finder item (`liaison.lookup`) as a listing row: the object, its TLP (from
    its markings, or the collection default), its other markings and its origin."""
    out = {"id": item["id"], "type": item["type"],
           "title": item.get("name") or stixview.short_id(str(item["id"])),
           "collection": item.get("collection_alias") or item["collection"],
           "version": item.get("version"), "tlp": item.get("tlp"),
           "tlp_default": item.get("tlp_from") != "markings",
           "markings": list(item.get("markings") or []),
           "origin": None if item.get("origin") in (None, "local") else item["origin"],
           "added": item.get("last_seen"), "revoked": bool(item.get("revoked"))}
    return out


class Backend:
    """Everything the pages read and write, bound to one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.exchange: Exchange = node.exchange
        self.settings = node.settings
        self.audit = Audit(node.store, node.settings.home)

    def org_name(self) -> str:
        return str(self.node.org_identity().get("name", ""))

    # -- collections ------------------------------------------------------------------
    def collections(self, who: Principal) -> list[CollectionView]:
        return self.exchange.collections(who)

    def readable(self, who: Principal) -> list[CollectionView]:
        return [v for v in self.exchange.collections(who) if v.can_read]

    def collection(self, who: Principal, ref: str) -> CollectionView:
        return self.exchange.collection(who, ref)

    # -- search, lookup, correlation (the finder) -----------------------------------------
    def search(self, who: Principal, query: str, *, limit: int = 50, cursor: str | None = None,
               facets: bool = False, newest: bool = True) -> dict[str, Any]:
        return self.exchange.finder.search(who, query, limit=limit, next=cursor,
                                           facets=facets, newest=newest)

    def lookup(self, who: Principal, values: list[str]) -> list[dict[str, Any]]:
        return self.exchange.finder.lookup(who, values)

    def correlate(self, who: Principal, oid: str) -> dict[str, Any]:
        return self.exchange.finder.correlate(who, oid)

    # -- objects ------------------------------------------------------------------------
    def versions(self, who: Principal, ref: str, oid: str) -> list[dict[str, Any]]:
        """Every version of one object this principal may read (TAXII §5.8 + §5.6)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            listing = self.exchange.read(who, ref, Filters(
                versions=VersionFilter.everything(), next=cursor), kind="objects",
                object_id=oid)
            out.extend(stixview.parse(r.body) for r in listing.rows if r.body)
            if not listing.more or len(out) >= 1000:
                return out
            cursor = listing.next

    def by_ids(self, who: Principal, ref: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Latest versions of the given ids that the collection holds."""
        wanted = tuple(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 200):
            listing = self.exchange.read(who, ref, Filters(ids=wanted[start:start + 200],
                                                           limit=200), kind="objects")
            for r in listing.rows:
                if r.body:
                    obj = stixview.parse(r.body)
                    found[str(obj.get("id"))] = obj
        return found

    def holders(self, who: Principal, oid: str) -> list[str]:
        """The readable collections that hold an object."""
        return [cname(v) for v in self.readable(who) if self.by_ids(who, cname(v), [oid])]

    def provenance(self, who: Principal, ref: str, oid: str) -> list[dict[str, Any]]:
        return self.exchange.provenance(who, ref, oid)

    def markings(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Display facts of marking ids: TLP level, or the registry's name and kind."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        rest = []
        for mid in wanted:
            level = tlp_level_of_marking(mid)
            if level is not None:
                out[mid] = {"id": mid, "kind": "tlp", "tlp": level,
                            "name": "TLP:" + level.upper()}
            else:
                rest.append(mid)
        known = self.exchange.marking_names(rest) if rest else {}
        for mid in rest:
            info = known.get(mid)
            if info is None:
                out[mid] = {"id": mid, "kind": "unknown", "tlp": None,
                            "name": "unknown marking " + stixview.short_id(mid)}
                continue
            rank = info.get("tlp")
            out[mid] = {"id": mid, "kind": info["kind"],
                        "tlp": stixview.TLP_RANK_NAMES.get(rank) if isinstance(rank, int)
                        else None,
                        "name": info.get("name") or f"{info['kind']} marking",
                        "releasable_to": info.get("releasable_to", [])}
        return out

    def decorate(self, who: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with their non-TLP markings named, and relationships and sightings
        titled with the names of what they join."""
        names = self.markings(m for r in rows for m in r["markings"])
        self._name_ends(who, rows)
        for r in rows:
            r["marking_names"] = [names[m]["name"] for m in r["markings"] if m in names
                                  and names[m]["kind"] != "tlp"]
        return rows

    def _name_ends(self, who: Principal, rows: list[dict[str, Any]]) -> None:
        joins = [r for r in rows if r["type"] in ("relationship", "sighting")]
        by_collection: dict[str, set[str]] = {}
        for r in joins:
            by_collection.setdefault(r["collection"], set()).add(r["id"])
        bodies: dict[tuple[str, str], dict[str, Any]] = {}
        for ref, ids in by_collection.items():
            for oid, obj in self.by_ids(who, ref, ids).items():
                bodies[(ref, oid)] = obj
        ends: dict[str, set[str]] = {}
        for r in joins:
            found = stixview.ends_of(bodies.get((r["collection"], r["id"]), {}))
            if found is not None:
                r["ends"] = list(found)
                ends.setdefault(r["collection"], set()).update(e for e in found[::2] if e)
        titles = {(ref, oid): stixview.title_of(obj) for ref, ids in ends.items()
                  for oid, obj in self.by_ids(who, ref, ids).items()}

        def name(ref: str, oid: str) -> str:
            return titles.get((ref, oid)) or stixview.short_id(oid)

        for r in joins:
            if r.get("ends"):
                src, verb, dst = r["ends"]
                c = r["collection"]
                r["title"] = (f"{name(c, src)} {verb} {name(c, dst)}" if src
                              else f"{verb} {name(c, dst)}")

    # -- partners and sync ----------------------------------------------------------------
    def sync_rows(self, partner: str | None = None) -> list[dict[str, Any]]:
        """Per (agreement, collection, direction): last success, lag, last error."""
        return [{k: v for k, v in r.items() if not k.startswith("_")}
                for r in status_rows(self.exchange, partner)]

    def sync_now(self, partner: str) -> list[dict[str, Any]]:
        """One sync pass with one partner, now (what `liaison sync --once` does)."""
        from liaison.federation.scheduler import Options, Syncer

        self.exchange.partners.get(partner)  # 404 for an unknown partner
        results = Syncer(self.exchange, Options.from_settings(self.settings)).run_once(partner)
        return [{"job": r.job.describe(), "moved": r.moved, "refused": r.failed,
                 "caught_up": r.caught_up, "error": r.error, "skipped": r.skipped}
                for r in results]

    # -- audit ------------------------------------------------------------------------------
    def audit_head(self) -> int:
        return self.audit.head()[0]
