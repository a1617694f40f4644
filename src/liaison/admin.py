"""Node administration through the one door: principals, collections, grants.

Local users have a role: `admin` (every collection, every action), `analyst` (read
and write where granted) or `reader` (read where granted; never writes).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from liaison.audit.context import draft
from liaison.errors import BadRequest, Conflict, NotFound
from liaison.stix.timestamps import now_us
from liaison.storage.base import ROLES, Collection, Principal, Store
from liaison.tokens import hash_token, new_token

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class NewCredential:
    principal: Principal
    token: str


class Admin:
    """Administrative operations; each is one transaction in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- principals -----------------------------------------------------------
    def add_user(self, name: str, role: str, *, kind: str = "user",
                 audit: bool = True) -> NewCredential:
        """A new principal and its one-time token.  `audit=False` when the caller records
        the operation itself (a partner's principal: one `partner.add` entry)."""
        if not _NAME.match(name):
            raise BadRequest(f"user name {name!r} must be 1–64 letters, digits, '.', '_', "
                             "'@' or '-', starting with a letter or digit")
        if kind == "user" and role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if self.store.principal_by_name(name) is not None:
            raise Conflict(f"a principal named '{name}' already exists — see 'liaison user list'")
        token = new_token()
        principal = Principal(str(uuid.uuid4()), name, kind, role, now_us())
        entry = draft(f"{kind}.add", name, role=role, principal_id=principal.id) if audit else None
        with self.store.unit(entry):
            self.store.add_principal(principal, hash_token(token))
        return NewCredential(principal, token)

    def principal(self, name: str) -> Principal:
        found = self.store.principal_by_name(name)
        if found is None:
            raise NotFound(f"no user named '{name}' — see 'liaison user list'")
        return found

    def users(self) -> list[Principal]:
        return self.store.list_principals()

    def revoke_user(self, name: str) -> Principal:
        principal = self.principal(name)
        if principal.revoked_at is None:
            with self.store.unit(draft("user.revoke", name, principal_id=principal.id)):
                self.store.revoke_principal(principal.id, now_us())
        return self.principal(name)

    # -- collections ------------------------------------------------------------
    def add_collection(self, title: str, alias: str | None = None,
                       description: str | None = None) -> Collection:
        if not title.strip():
            raise BadRequest("a collection needs a non-empty title")
        if "\x00" in title + (description or ""):  # PostgreSQL text cannot hold U+0000
            raise BadRequest("a collection's title and description cannot contain U+0000 (NUL)")
        if alias is not None:
            if not _ALIAS.match(alias):
                raise BadRequest(f"alias {alias!r} must be 1–64 lowercase letters, digits, "
                                 "'.', '_' or '-'")
            if self.store.collection(alias) is not None:
                raise Conflict(f"a collection with alias '{alias}' already exists")
        new = Collection(0, str(uuid.uuid4()), title.strip(), alias, description, now_us())
        with self.store.unit(draft("collection.add", new.id, title=new.title, alias=alias)):
            return self.store.add_collection(new)

    def collection(self, ref: str) -> Collection:
        found = self.store.collection(ref)
        if found is None:
            raise NotFound(f"collection '{ref}' not found — see 'liaison collection list'")
        return found

    def collections(self) -> list[tuple[Collection, int]]:
        return [(c, self.store.count_objects(c.cid)) for c in self.store.list_collections()]

    # -- grants ---------------------------------------------------------------------
    def grant(self, ref: str, name: str, *, read: bool, write: bool) -> tuple[Collection, Principal]:
        collection = self.collection(ref)
        principal = self.principal(name)
        if not (read or write):
            raise BadRequest("say what to grant: --read, --write or both")
        if write and principal.role == "reader":
            raise BadRequest(f"'{name}' is a reader and cannot be granted write access")
        with self.store.unit(draft("grant.set", collection.id, principal=name, read=read,
                                   write=write)):
            self.store.set_grant(collection.cid, principal.id, read, write)
        return collection, principal

    def revoke_grant(self, ref: str, name: str) -> tuple[Collection, Principal]:
        collection = self.collection(ref)
        principal = self.principal(name)
        with self.store.unit(draft("grant.remove", collection.id, principal=name)):
            if not self.store.remove_grant(collection.cid, principal.id):
                raise NotFound(f"'{name}' has no grant on collection '{ref}'")
        return collection, principal
