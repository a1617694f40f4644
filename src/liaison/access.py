"""Who may do what on which collection, computed afresh on every request.

Local users: collection grants decide (admins have every right; readers never write).
Partners: their active agreements decide (TAXII §1.8 `can_read`/`can_write` follow
"pull" and "push"), and reads carry the partner's `Visibility`, which the store
compiles into the query so that withheld objects are absent from bodies, counts,
pages and headers alike.  Nothing here is cached: revoking an agreement or a token
takes effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.errors import NotFound
from liaison.policy.model import Agreement, Partner, Terms, Visibility
from liaison.stix.timestamps import now_us
from liaison.storage.base import Collection, Principal, Store


@dataclass(frozen=True, slots=True)
class Access:
    """One principal's rights on one collection."""

    collection: Collection
    can_read: bool
    can_write: bool
    visibility: Visibility | None = None
    partner: Partner | None = None

    @property
    def visible(self) -> bool:
        return self.can_read or self.can_write


class Rights:
    """Computes `Access` for principals from grants and agreements."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def partner_of(self, principal: Principal) -> Partner | None:
        if principal.kind != "partner":
            return None
        partner = self.store.partner_by_principal(principal.id)
        return partner if partner is not None and partner.removed_at is None else None

    def for_partner(self, partner: Partner | None, collections: list[Collection],
                    ) -> list[Access]:
        """The partner's access to each collection (agreements active right now)."""
        if partner is None:  # a partner principal without a partner: nothing (fail closed)
            return [Access(c, False, False) for c in collections]
        now = now_us()
        active: list[Agreement] = [a for a in self.store.agreements(partner.id) if a.active(now)]
        out = []
        for c in collections:
            covering = [a for a in active if c.cid in a.cids]
            terms = tuple(Terms(a.id, a.max_tlp, a.reshare)
                          for a in covering if a.lets_partner_read())
            can_write = any(a.lets_partner_write() for a in covering)
            vis = Visibility(partner.id, partner.org_identity, c.default_tlp, terms)
            out.append(Access(c, bool(terms), can_write, vis, partner))
        return out

    def _user_access(self, principal: Principal, collections: list[Collection]) -> list[Access]:
        if principal.is_admin:
            return [Access(c, True, True) for c in collections]
        grants = self.store.grants_of(principal.id)
        out = []
        for c in collections:
            r, w = grants.get(c.cid, (False, False))
            out.append(Access(c, r, w and principal.role != "reader"))
        return out

    def all(self, principal: Principal) -> list[Access]:
        """Access to every collection the principal can see, in a stable order."""
        collections = self.store.list_collections()
        if principal.kind == "partner":
            found = self.for_partner(self.partner_of(principal), collections)
        else:
            found = self._user_access(principal, collections)
        return [a for a in found if a.visible]

    def one(self, principal: Principal, ref: str) -> Access:
        """Access to one collection; 404 when it is unknown or invisible to the caller."""
        c = self.store.collection(ref)
        if c is not None:
            if principal.kind == "partner":
                found = self.for_partner(self.partner_of(principal), [c])[0]
            else:
                found = self._user_access(principal, [c])[0]
            if found.visible:
                return found
        raise NotFound(f"collection '{ref}' not found")
