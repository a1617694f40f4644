"""The one door: every face (TAXII, CLI, web, federation) reads and writes through here.

Who may see or change what is decided here and nowhere else; faces translate HTTP or
terminal input into these calls and the results back.  Reads return stored bytes for
faces to splice (DESIGN "bytes in, bytes out").
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from liaison.access import Access, Rights
from liaison.admin import Admin
from liaison.audit.context import Actor, draft
from liaison.cursor import Cursors, fingerprint
from liaison.explain import Explanation, explain
from liaison.lookup import Finder
from liaison.partners import Partners
from liaison.policy.model import Partner, Visibility
from liaison.errors import (
    BadRequest,
    Forbidden,
    LiaisonError,
    NotFound,
    Unauthenticated,
    Unprocessable,
)
from liaison.stix.jsonparse import JSONError, parse_json
from liaison.stix.timestamps import format_taxii_timestamp, now_us
from liaison.storage.base import (
    Collection,
    ObjectQuery,
    ObjectRow,
    Page,
    Principal,
    StatusRecord,
    Store,
    StoredOutcome,
    SyncAdvance,
    VersionFilter,
)
from liaison.tokens import hash_token
from liaison.writes import prepare

SPEC_VERSION = "2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
DUPLICATE_MESSAGE = "already stored"


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of a TAXII read (§3.4); `None` spec_versions means the default."""

    added_after: int | None = None
    limit: int | None = None
    next: str | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionFilter = field(default_factory=VersionFilter)
    spec_versions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CollectionView:
    """A collection as one principal sees it (TAXII §5.2.1)."""

    collection: Collection
    can_read: bool
    can_write: bool


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a read, with the cursor for the next page when there is `more`."""

    rows: list[ObjectRow]
    more: bool
    next: str | None


@dataclass(slots=True)
class IngestReport:
    """What an ingest did, object by object, for status resources and CLI summaries."""

    successes: list[StoredOutcome] = field(default_factory=list)
    failures: list[StoredOutcome] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for s in self.successes if s.stored)

    @property
    def duplicates(self) -> int:
        return sum(1 for s in self.successes if not s.stored)


class Exchange:
    """Policy-checked operations over a `Store`."""

    def __init__(self, store: Store, cursors: Cursors, *, default_limit: int,
                 max_limit: int) -> None:
        self.store = store
        self.admin = Admin(store)
        self.partners = Partners(store, self.admin)
        self.rights = Rights(store)
        self.cursors = cursors
        self.finder = Finder(store, self.rights, cursors)
        """Observable lookup, full-text search and correlation (`liaison.lookup`)."""
        self.default_limit = default_limit
        self.max_limit = max_limit

    # -- identity ---------------------------------------------------------------
    def authenticate(self, token: str, name: str | None = None) -> Principal:
        """The principal holding `token` (and called `name`, for HTTP Basic)."""
        principal = self.store.principal_by_token(hash_token(token)) if token else None
        if (principal is None or principal.revoked_at is not None
                or (name is not None and name != principal.name)):
            reason = ("unknown token" if principal is None else
                      "revoked principal" if principal.revoked_at is not None else
                      "name does not match the token")
            self.store.record([draft("auth.fail", name or "-", result="denied", reason=reason)])
            raise Unauthenticated("the credentials are not valid for this node")
        return principal

    def actor(self, principal: Principal) -> Actor:
        """The audit identity of a principal: who, and of which organisation."""
        org = self.org_id
        if principal.kind == "partner":
            partner = self.rights.partner_of(principal)
            org = partner.org_identity if partner else ""
        return Actor(principal.id, principal.name, org, principal.kind)

    @functools.cached_property
    def org_id(self) -> str:
        raw = self.store.get_meta("org_identity")
        return str(orjson.loads(raw)["id"]) if raw else ""

    def _access(self, principal: Principal, ref: str) -> Access:
        """`Rights.one`, recording the refusal when the collection exists but is hidden."""
        try:
            return self.rights.one(principal, ref)
        except NotFound:
            hidden = self.store.collection(ref)
            if hidden is not None:
                self.store.record([draft("access.denied", hidden.id, result="denied",
                                         reason="no right on this collection")])
            raise

    def refused_credentials(self, reason: str) -> None:
        """Record a request refused before any principal could be named (no or
        malformed credentials); `authenticate` records the other refusals itself."""
        self.store.record([draft("auth.fail", "-", result="denied", reason=reason)])

    def require_admin(self, principal: Principal, target: str) -> None:
        """Node administration (Liaison's own endpoints): admins only, refusals recorded."""
        if not principal.is_admin:
            raise self._deny("this endpoint is for node administrators", target)

    def _deny(self, message: str, target: str) -> Forbidden:
        """Record an authorisation failure, then hand back the error to raise."""
        self.store.record([draft("access.denied", target, result="denied", reason=message)])
        return Forbidden(message)

    # -- collections --------------------------------------------------------------
    def collections(self, principal: Principal) -> list[CollectionView]:
        """The collections a principal can see (TAXII §5.1), in a stable order."""
        return [CollectionView(a.collection, a.can_read, a.can_write)
                for a in self.rights.all(principal)]

    def collection(self, principal: Principal, ref: str) -> CollectionView:
        """One visible collection by id or alias; 404 when unknown or invisible."""
        a = self._access(principal, ref)
        return CollectionView(a.collection, a.can_read, a.can_write)

    def _readable(self, principal: Principal, ref: str) -> Access:
        access = self._access(principal, ref)
        if not access.can_read:
            raise self._deny("you may not read this collection", access.collection.id)
        return access

    # -- reads (TAXII §5.3, §5.4, §5.6, §5.8) -------------------------------------
    def read(self, principal: Principal, ref: str, filters: Filters, *, kind: str,
             object_id: str | None = None) -> Listing:
        """A page of objects (`kind` "objects"), manifest records ("manifest") or
        versions ("versions"), optionally of one object (§5.6, §5.8)."""
        access = self._readable(principal, ref)
        collection = access.collection
        ids = (object_id,) if object_id is not None else filters.ids
        versions = VersionFilter.everything() if kind == "versions" else filters.versions
        query_key = fingerprint(kind, object_id, filters.added_after, filters.ids,
                                filters.types, versions, filters.spec_versions)
        after = filters.added_after
        if filters.next is not None:
            position = self.cursors.open(filters.next, collection=collection.id,
                                         principal=principal.id, query=query_key)
            after = position if after is None else max(after, position)
        limit = min(filters.limit or self.default_limit, self.max_limit)
        if filters.spec_versions is not None and SPEC_VERSION not in filters.spec_versions:
            page_rows, more = [], False  # this node stores STIX 2.1 only
        else:
            page = self.store.query(ObjectQuery(
                cid=collection.cid, ids=ids, types=filters.types, versions=versions,
                after=after, limit=limit, with_body=(kind == "objects"),
                visibility=access.visibility))
            page_rows, more = page.rows, page.more
        if object_id is not None and not page_rows and filters.next is None:
            self._require_object(collection, object_id, access.visibility)
        token = None
        if more:
            token = self.cursors.mint(collection=collection.id, principal=principal.id,
                                      query=query_key, position=page_rows[-1].date_added)
        if access.partner is not None and page_rows:
            self._record_release(access, kind, page_rows, "taxii")
        return Listing(page_rows, more, token)

    def _record_release(self, access: Access, kind: str, rows: list[ObjectRow],
                        channel: str) -> None:
        """Record what leaves for a partner before it leaves (fail closed: no entry, no
        release).  One entry per request, listing every object version."""
        assert access.partner is not None and access.visibility is not None
        self.store.record([draft(
            "release", access.collection.id, partner=access.partner.name,
            partner_id=access.partner.id, org=access.partner.org_identity, channel=channel,
            kind=kind, agreements=[t.agreement_id for t in access.visibility.terms],
            versions=[[r.id, r.version] for r in rows])])

    def _require_object(self, collection: Collection, object_id: str,
                        visibility: Visibility | None) -> None:
        probe = self.store.query(ObjectQuery(
            cid=collection.cid, ids=(object_id,), versions=VersionFilter.everything(),
            limit=1, with_body=False, visibility=visibility))
        if not probe.rows:
            raise NotFound(f"object '{object_id}' not found in this collection")

    # -- writes (TAXII §5.5, §5.7) ----------------------------------------------------
    def add_envelope(self, principal: Principal, ref: str, body: bytes) -> bytes:
        """Store the objects of a posted envelope; return the status resource (§4.3.1)."""
        access = self._access(principal, ref)
        if not access.can_write:
            raise self._deny("you may not add objects to this collection", access.collection.id)
        try:
            envelope = parse_json(body)
        except JSONError as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc.message}") from None
        objects = _envelope_objects(envelope)
        now = now_us()
        status_id = str(uuid.uuid4())
        cid = access.collection.cid

        made: list[StatusRecord] = []

        def make_status(report: IngestReport) -> StatusRecord:
            made.append(StatusRecord(status_id, principal.id, cid, now,
                                     status_body(status_id, now, len(objects), report)))
            return made[0]

        self._ingest(access.collection, objects, now, access.partner, make_status)
        return made[0].body

    def _ingest(self, collection: Collection, objects: Iterable[object], now: int,
                partner: Partner | None,
                make_status: Callable[[IngestReport], StatusRecord] | None = None,
                *, via: str | None = None,
                advance: Callable[[IngestReport], SyncAdvance] | None = None,
                ) -> IngestReport:
        """Validate, apply the receiving policy and store, as one transaction.

        `make_status` and `advance` (a federation checkpoint) are built from the report
        inside that transaction; `via` is the agreement partner material came through.
        """
        cid = collection.cid
        prepared = prepare(self.store, objects, partner, via,
                           copies_in=cid if advance is not None else None)
        report = IngestReport(failures=prepared.failures)
        audit = draft("objects.add", collection.id, partner=partner.name if partner else None,
                      via=via)
        filled: list[bool] = []

        def fill(outcomes: list[StoredOutcome]) -> IngestReport:
            if not filled:
                report.successes.extend(outcomes[: prepared.own])
                filled.append(True)
            return report

        status_hook = (None if make_status is None
                       else lambda outcomes: make_status(fill(outcomes)))
        advance_hook = None if advance is None else lambda outcomes: advance(fill(outcomes))
        with self.store.unit(audit):
            for info, body in prepared.markings:
                self.store.set_marking(info, body)
            fill(self.store.add_objects(cid, prepared.versions, now, status_hook,
                                        advance=advance_hook))
            audit.details.update(
                stored=[[o.id, o.version] for o in report.successes if o.stored],
                duplicates=report.duplicates, rejected=len(report.failures))
        return report

    # -- federation (liaison.federation: the sync engine is a face too) --------------
    def partner_access(self, partner_id: str, agreement_id: str, cid: int) -> Access | None:
        """A partner's rights on one collection under one agreement, computed afresh.

        None when the partner is gone or the agreement no longer covers the collection
        (revoked, expired, not yet valid): the sync engine asks before every request,
        so revocation stops the flow at the next one.  The visibility carries only this
        agreement's terms: a push releases what this agreement releases.
        """
        partner = next((p for p in self.partners.list() if p.id == partner_id), None)
        collection = next((c for c in self.store.list_collections() if c.cid == cid), None)
        if partner is None or collection is None:
            return None
        access = self.rights.for_partner(partner, [collection])[0]
        agreement = next((a for a in self.store.agreements(partner_id) if a.id == agreement_id),
                         None)
        if agreement is None or not agreement.active(now_us()) or cid not in agreement.cids:
            return None
        vis = access.visibility
        assert vis is not None
        terms = tuple(t for t in vis.terms if t.agreement_id == agreement_id)
        return Access(collection, bool(terms), agreement.lets_partner_write(),
                      Visibility(vis.partner_id, vis.org_id, vis.default_tlp, terms), partner)

    def outbound(self, access: Access, after: int | None, limit: int) -> Page:
        """The next versions our policy releases to the partner (ascending date_added),
        leaving out what came from that partner itself (it has them)."""
        if not access.can_read or access.partner is None:
            raise Forbidden("no active agreement lets this partner read the collection")
        return self.store.query(ObjectQuery(
            cid=access.collection.cid, versions=VersionFilter.everything(), after=after,
            limit=limit, visibility=access.visibility, exclude_origin=access.partner.id))

    def record_push(self, access: Access, rows: list[ObjectRow]) -> None:
        """Record the versions about to be pushed, just before they are sent."""
        if rows:
            self._record_release(access, "objects", rows, "push")

    def receive(self, access: Access, agreement_id: str, objects: list[object], now: int,
                advance: Callable[[IngestReport], SyncAdvance]) -> IngestReport:
        """Objects pulled from a partner: the same validation and receiving policy as a
        partner's POST (the partner is the writer), provenance recorded, and the sync
        checkpoint written in the same transaction as the data."""
        if not access.can_write or access.partner is None:
            raise Forbidden("no active agreement lets this partner write to the collection")
        return self._ingest(access.collection, objects, now, access.partner,
                            via=agreement_id, advance=advance)

    def delete_object(self, principal: Principal, ref: str, object_id: str,
                      versions: VersionFilter | None, spec_versions: tuple[str, ...] | None) -> None:
        """Delete versions of an object (§5.7); no `match[version]` deletes every version."""
        access = self._access(principal, ref)
        target = access.collection.id
        if not (access.can_read and access.can_write):
            raise self._deny("deleting needs both read and write access to this collection",
                             target)
        if access.partner is not None:
            raise self._deny("partners may add objects under a push agreement, never delete",
                             target)
        if spec_versions is not None and SPEC_VERSION not in spec_versions:
            raise NotFound(f"object '{object_id}' not found in this collection")
        which = versions or VersionFilter.everything()
        audit = draft("objects.delete", target, object=object_id)
        with self.store.unit(audit):
            removed = self.store.delete_versions(access.collection.cid, object_id, which)
            if removed == 0:
                raise NotFound(f"object '{object_id}' not found in this collection")
            audit.details["versions_removed"] = removed

    def status(self, principal: Principal, status_id: str) -> bytes:
        """A status resource (§4.3), visible to the principal that caused it (and admins)."""
        record = self.store.get_status(status_id)
        if record is None or (record.principal_id != principal.id and not principal.is_admin):
            raise NotFound(f"status '{status_id}' not found")
        return record.body

    # -- policy explanations (admins) ------------------------------------------------
    def explain(self, object_id: str, partner_name: str,
                collection_ref: str | None = None) -> list[Explanation]:
        """Why an object is or is not released to a partner, per collection holding it."""
        partner = self.partners.get(partner_name)
        collection = self.admin.collection(collection_ref) if collection_ref else None
        return explain(self.store, self.rights, object_id, partner, collection)

    # -- the web face (liaison.web): sign-in, sessions, provenance, marking names ------
    def sign_in(self, name: str, token: str) -> Principal:
        """A local user signing in to the web UI, audited either way.  A partner's
        principal is refused: it calls the TAXII API, it never signs in."""
        principal = self.authenticate(token, name)
        if principal.kind != "user":
            self.store.record([draft("auth.fail", name, result="denied",
                                     reason="a partner principal cannot sign in to the web UI")])
            raise Unauthenticated("partner credentials cannot sign in to the web UI")
        entry = draft("web.sign_in", principal.name, principal_id=principal.id)
        entry.actor_id, entry.actor_name, entry.org = principal.id, principal.name, self.org_id
        self.store.record([entry])
        return principal

    def resume(self, principal_id: str, name: str) -> Principal:
        """The user of a web session, checked afresh on every request: revoking the
        user (and so its token) ends its sessions at once."""
        found = self.store.principal_by_name(name)
        if (found is None or found.id != principal_id or found.revoked_at is not None
                or found.kind != "user"):
            raise Unauthenticated("the session has ended — sign in again")
        return found

    def refused(self, target: str, reason: str) -> None:
        """Record a request a face refused on its own (a web form without its CSRF
        token): an `access.denied` entry, like every other refusal."""
        self.store.record([draft("access.denied", target, result="denied", reason=reason)])

    def session_key(self) -> bytes:
        """The key web sessions and CSRF tokens are signed with (same on every process)."""
        return self.cursors.derive("web-session")

    def provenance(self, principal: Principal, ref: str, object_id: str,
                   ) -> list[dict[str, object]]:
        """Per stored version: this node's own, or which partner sent it, when, through
        which agreement.  For local users who may read the collection."""
        access = self._readable(principal, ref)
        if principal.kind != "user":
            raise self._deny("provenance is shown to local users only", access.collection.id)
        names = {p.id: p.name for p in self.store.list_partners()}
        return [{"version": version, "date_added": format_taxii_timestamp(added),
                 "origin": None if origin is None else names.get(origin, origin),
                 "agreement": via}
                for version, added, origin, via in
                self.store.provenance(access.collection.cid, object_id)]

    def marking_names(self, ids: Iterable[str]) -> dict[str, dict[str, object]]:
        """What the node knows of each marking id (name, kind, TLP rank, releasable-to),
        for faces to show; unknown ids are absent."""
        wanted = list(dict.fromkeys(ids))
        infos, bodies = self.store.markings(wanted), self.store.marking_bodies(wanted)
        out: dict[str, dict[str, object]] = {}
        for mid, info in infos.items():
            body = orjson.loads(bodies[mid]) if mid in bodies else {}
            out[mid] = {"name": body.get("name"), "kind": info.kind, "tlp": info.tlp,
                        "releasable_to": sorted(info.releasable_to)}
        return out

    # -- node-local operations (CLI) ----------------------------------------------------
    def import_objects(self, collection: Collection, raw: Iterable[bytes]) -> IngestReport:
        """Store objects given as raw JSON texts (one object each), as one transaction."""
        report = IngestReport()
        parsed: list[object] = []
        for text in raw:
            try:
                parsed.append(parse_json(text))
            except JSONError as exc:
                report.failures.append(StoredOutcome("unknown", "unknown", False,
                                                     f"not valid JSON: {exc.message}"))
        sub = self._ingest(collection, parsed, now_us(), None)
        report.successes.extend(sub.successes)
        report.failures.extend(sub.failures)
        return report

    def export(self, collection: Collection, page_size: int = 1000,
               partner: str | None = None) -> Iterator[bytes]:
        """The latest version of every object, page by page (constant memory); with
        `partner`, only what that partner's agreements release right now."""
        visibility = None
        if partner is not None:
            visibility = self.rights.for_partner(self.partners.get(partner),
                                                 [collection])[0].visibility
        after: int | None = None
        while True:
            page = self.store.query(ObjectQuery(cid=collection.cid, after=after,
                                                limit=page_size, visibility=visibility))
            for row in page.rows:
                assert row.body is not None
                yield row.body
            if not page.more:
                return
            after = page.rows[-1].date_added


_JSON_KINDS: dict[type, str] = {int: "number", float: "number", str: "string", bool: "boolean",
                                 list: "array", type(None): "null"}


def _envelope_objects(envelope: object) -> list[object]:
    """The `objects` of an envelope (TAXII §3.7) or of a STIX bundle (node decision)."""
    if not isinstance(envelope, dict):
        raise Unprocessable("the request body must be a TAXII envelope: a JSON object "
                            "with an 'objects' list")
    objects = envelope.get("objects")
    if not isinstance(objects, list) or not objects:
        raise Unprocessable("the envelope has no 'objects' list (or it is empty): "
                            "nothing to add")
    for n, item in enumerate(objects):
        if not isinstance(item, dict):
            kind = _JSON_KINDS.get(type(item), "value")
            raise Unprocessable(f"objects[{n}] is a JSON {kind}, not an object: an envelope "
                                "lists STIX objects only (TAXII §3.7); nothing was stored")
    return objects


def _details(items: list[StoredOutcome], default_message: str | None) -> list[dict[str, str]]:
    out = []
    for item in items:
        d = {"id": item.id, "version": item.version}
        message = item.message or (None if item.stored else default_message)
        if message:
            d["message"] = message
        out.append(d)
    return out


def status_body(status_id: str, now: int, total: int, report: IngestReport) -> bytes:
    """The finished status resource (TAXII §4.3.1); empty lists are omitted (§2)."""
    doc: dict[str, object] = {
        "id": status_id,
        "status": "complete",
        "request_timestamp": format_taxii_timestamp(now),
        "total_count": total,
        "success_count": len(report.successes),
        "failure_count": len(report.failures),
        "pending_count": 0,
    }
    if report.successes:
        doc["successes"] = _details(report.successes, DUPLICATE_MESSAGE)
    if report.failures:
        doc["failures"] = _details(report.failures, None)
    return orjson.dumps(doc)


__all__ = ["CollectionView", "Exchange", "Filters", "IngestReport", "Listing", "LiaisonError"]
