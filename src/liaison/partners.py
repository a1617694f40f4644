"""Partners, agreements and releasability markings: administration through the one door.

A partner is another organisation's node.  Adding one creates the inbound principal its
node calls us with (token shown once, stored hashed).  An agreement lets a partner read
("pull") and/or write ("push") some collections up to a TLP ceiling, optionally
re-sharing material we received from others, between optional dates.  Revocation and
expiry are evaluated on every request: nothing about them is cached.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from liaison.admin import Admin
from liaison.audit.context import draft
from liaison.errors import BadRequest, Conflict, NotFound
from liaison.policy.model import DIRECTIONS, Agreement, MarkingInfo, Partner, parse_tlp
from liaison.policy.releasability import releasability_marking
from liaison.stix.canonical import canonical_bytes
from liaison.stix.ids import check_id
from liaison.stix.timestamps import format_taxii_timestamp, now_us
from liaison.storage.base import Store

_URL = re.compile(r"^https?://[^\s/\x00-\x1f\x7f]+(/[^\s\x00-\x1f\x7f]*)?$")


@dataclass(frozen=True, slots=True)
class NewPartner:
    partner: Partner
    token: str


class Partners:
    """Partner, agreement and marking administration."""

    def __init__(self, store: Store, admin: Admin) -> None:
        self.store = store
        self.admin = admin

    # -- partners ---------------------------------------------------------------
    def add(self, name: str, org_identity: str, url: str | None = None,
            token: str | None = None) -> NewPartner:
        try:
            check_id(org_identity, "identity")
        except ValueError as exc:
            raise BadRequest(f"--org-identity must be a STIX identity id: {exc}") from None
        if url is not None and not _URL.match(url):
            raise BadRequest(f"--url {url!r} must be an http:// or https:// URL")
        if self.store.partner(name) is not None:
            raise Conflict(f"a partner named '{name}' already exists — see 'liaison partner list'")
        audit = draft("partner.add", name, org_identity=org_identity, url=url)
        with self.store.unit(audit):
            cred = self.admin.add_user(name, "partner", kind="partner", audit=False)
            partner = Partner(str(uuid.uuid4()), name, org_identity, cred.principal.id, url,
                              token, now_us())
            self.store.add_partner(partner)
            audit.details["partner_id"] = partner.id
        return NewPartner(partner, cred.token)

    def set_remote(self, name: str, url: str | None = None, token: str | None = None,
                   ) -> Partner:
        """Change where and how our node calls the partner (either may be left as is)."""
        p = self.get(name)
        if url is not None and not _URL.match(url):
            raise BadRequest(f"--url {url!r} must be an http:// or https:// URL")
        with self.store.unit(draft("partner.remote", name, url=url,
                                   token_changed=token is not None)):
            self.store.set_partner_remote(p.id, url if url is not None else p.url,
                                          token if token is not None else p.remote_token)
        return self.get(name)

    def get(self, name: str) -> Partner:
        p = self.store.partner(name)
        if p is None or p.removed_at is not None:
            raise NotFound(f"no partner named '{name}' — see 'liaison partner list'")
        return p

    def list(self) -> list[Partner]:
        return [p for p in self.store.list_partners() if p.removed_at is None]

    def remove(self, name: str) -> Partner:
        """Remove a partner: its token stops working and its agreements end now."""
        p = self.get(name)
        now = now_us()
        with self.store.unit(draft("partner.remove", name, partner_id=p.id)):
            for a in self.store.agreements(p.id):
                if a.revoked_at is None:
                    self.store.revoke_agreement(a.id, now)
            self.store.revoke_principal(p.principal_id, now)
            self.store.remove_partner(p.id, now)
        return p

    # -- agreements -------------------------------------------------------------
    def add_agreement(self, partner: str, collections: list[str], direction: str, max_tlp: str,
                      reshare: bool = False, valid_from: int | None = None,
                      valid_until: int | None = None,
                      remote_collections: list[str] | None = None) -> Agreement:
        p = self.get(partner)
        if direction not in DIRECTIONS:
            raise BadRequest(f"--direction must be one of {', '.join(DIRECTIONS)}")
        try:
            rank = parse_tlp(max_tlp)
        except ValueError as exc:
            raise BadRequest(f"--max-tlp: {exc}") from None
        if not collections:
            raise BadRequest("an agreement needs at least one --collection")
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            raise BadRequest("--until must be after --from")
        remote = list(remote_collections or [])
        if remote and len(remote) != len(collections):
            raise BadRequest("give one --remote-collection per --collection, in the same order")
        cids = tuple(self.admin.collection(c).cid for c in collections)
        if len(set(cids)) != len(cids):
            raise BadRequest("a collection is named twice")
        agreement = Agreement(str(uuid.uuid4()), p.id, cids, direction, rank, reshare,
                              valid_from, valid_until, None, now_us(),
                              tuple(remote) if remote else (None,) * len(cids))
        with self.store.unit(draft("agreement.add", agreement.id, partner=partner,
                                   direction=direction, max_tlp=rank, reshare=reshare,
                                   collections=list(collections))):
            self.store.add_agreement(agreement)
        return agreement

    def agreements(self, partner: str | None = None) -> list[Agreement]:
        return self.store.agreements(self.get(partner).id if partner else None)

    def revoke_agreement(self, agreement_id: str) -> Agreement:
        with self.store.unit(draft("agreement.revoke", agreement_id)):
            if not self.store.revoke_agreement(agreement_id, now_us()):
                raise NotFound(f"no active agreement with id '{agreement_id}' — see "
                               "'liaison agreement list'")
        return next(a for a in self.store.agreements(None) if a.id == agreement_id)

    # -- markings -----------------------------------------------------------------
    def add_releasability(self, name: str, orgs: list[str], org_identity: str) -> dict[str, object]:
        """Define a releasability marking (stored in the registry; returned as STIX)."""
        for org in orgs:
            try:
                check_id(org, "identity")
            except ValueError as exc:
                raise BadRequest(f"--to must be a STIX identity id: {exc}") from None
        now = now_us()
        stamp = format_taxii_timestamp(now)[:-4] + "Z"
        marking = releasability_marking(f"marking-definition--{uuid.uuid4()}", name, orgs,
                                        org_identity, stamp)
        with self.store.unit(draft("marking.add", marking["id"], name=name,
                                   releasable_to=sorted(set(orgs)))):
            self.store.set_marking(MarkingInfo(marking["id"], "releasability", None,
                                               frozenset(orgs)), canonical_bytes(marking))
        return marking
