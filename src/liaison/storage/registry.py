"""Partners, agreements, the marking registry and release facts: SQL for both engines.

A mixin: an engine provides `_mark` (its placeholder), `_one`, `_all` (single reads)
and `_write()` (a transaction whose handle has `execute`).  The statements are plain
SQL that SQLite and PostgreSQL run alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from liaison.policy.model import Agreement, MarkingInfo, Partner
from liaison.storage.base import ObjectRelease

_PARTNER_COLS = "id, name, org_identity, principal_id, url, remote_token, created_at, removed_at"
_AGREEMENT_COLS = ("id, partner_id, direction, max_tlp, reshare, valid_from, valid_until, "
                   "revoked_at, created_at")
_CHUNK = 500


class RegistrySQL:
    _mark: str

    def _one(self, query: str, params: Sequence[object] = ()) -> Any: ...
    def _all(self, query: str, params: Sequence[object] = ()) -> list[Any]: ...
    def _write(self) -> AbstractContextManager[Any]: ...

    def _q(self, text: str) -> str:
        return text.replace("?", self._mark)

    def _chunks(self, ids: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            yield ",".join([self._mark] * len(chunk)), chunk

    # -- partners -------------------------------------------------------------
    def add_partner(self, p: Partner) -> None:
        with self._write() as tx:
            tx.execute(self._q(f"INSERT INTO partners ({_PARTNER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                       (p.id, p.name, p.org_identity, p.principal_id, p.url, p.remote_token,
                        p.created_at, p.removed_at))

    def partner(self, name: str) -> Partner | None:
        row = self._one(self._q(f"SELECT {_PARTNER_COLS} FROM partners WHERE name = ? "
                                "ORDER BY removed_at IS NULL DESC LIMIT 1"), (name,))
        return Partner(*row) if row else None

    def partner_by_principal(self, principal_id: str) -> Partner | None:
        row = self._one(self._q(f"SELECT {_PARTNER_COLS} FROM partners WHERE principal_id = ?"),
                        (principal_id,))
        return Partner(*row) if row else None

    def list_partners(self) -> list[Partner]:
        return [Partner(*r) for r in self._all(f"SELECT {_PARTNER_COLS} FROM partners ORDER BY name")]

    def set_partner_remote(self, partner_id: str, url: str | None, token: str | None) -> None:
        """Where and how our node calls the partner (federation)."""
        with self._write() as tx:
            tx.execute(self._q("UPDATE partners SET url = ?, remote_token = ? WHERE id = ?"),
                       (url, token, partner_id))

    def remove_partner(self, partner_id: str, at: int) -> None:
        with self._write() as tx:
            tx.execute(self._q("UPDATE partners SET removed_at = ? WHERE id = ?"), (at, partner_id))

    # -- agreements -------------------------------------------------------------
    def add_agreement(self, a: Agreement) -> None:
        with self._write() as tx:
            tx.execute(self._q(f"INSERT INTO agreements ({_AGREEMENT_COLS}) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                       (a.id, a.partner_id, a.direction, a.max_tlp, int(a.reshare), a.valid_from,
                        a.valid_until, a.revoked_at, a.created_at))
            for cid, remote in zip(a.cids, a.remote_collections or (None,) * len(a.cids),
                                   strict=True):
                tx.execute(self._q("INSERT INTO agreement_collections (agreement_id, cid, "
                                   "remote_collection) VALUES (?, ?, ?)"), (a.id, cid, remote))

    def agreements(self, partner_id: str | None) -> list[Agreement]:
        cond, params = ("WHERE a.partner_id = ?", (partner_id,)) if partner_id else ("", ())
        rows = self._all(self._q(
            f"SELECT a.id, a.partner_id, a.direction, a.max_tlp, a.reshare, a.valid_from, "
            f"a.valid_until, a.revoked_at, a.created_at, ac.cid, ac.remote_collection "
            f"FROM agreements a JOIN agreement_collections ac ON ac.agreement_id = a.id {cond} "
            f"ORDER BY a.created_at, a.id, ac.cid"), params)
        out: dict[str, Agreement] = {}
        for (aid, pid, direction, max_tlp, reshare, vf, vu, revoked, created, cid,
             remote) in rows:
            prev = out.get(aid)
            cids = (prev.cids if prev else ()) + (cid,)
            remotes = (prev.remote_collections if prev else ()) + (remote,)
            out[aid] = Agreement(aid, pid, cids, direction, max_tlp, bool(reshare), vf, vu,
                                 revoked, created, remotes)
        return list(out.values())

    def revoke_agreement(self, agreement_id: str, at: int) -> bool:
        with self._write() as tx:
            cur = tx.execute(self._q("UPDATE agreements SET revoked_at = ? WHERE id = ? "
                                     "AND revoked_at IS NULL"), (at, agreement_id))
            return bool(cur.rowcount)

    # -- marking registry ---------------------------------------------------------
    def set_marking(self, info: MarkingInfo, body: bytes | None) -> None:
        with self._write() as tx:
            tx.execute(self._q("DELETE FROM marking_release WHERE marking_id = ?"), (info.id,))
            tx.execute(self._q("DELETE FROM markings WHERE id = ?"), (info.id,))
            tx.execute(self._q("INSERT INTO markings (id, kind, tlp, body) VALUES (?, ?, ?, ?)"),
                       (info.id, info.kind, info.tlp, body))
            for org in sorted(info.releasable_to):
                tx.execute(self._q("INSERT INTO marking_release (marking_id, org_id) "
                                   "VALUES (?, ?)"), (info.id, org))

    def markings(self, ids: Sequence[str]) -> dict[str, MarkingInfo]:
        found: dict[str, MarkingInfo] = {}
        for marks, chunk in self._chunks(ids):
            rows = self._all(
                f"SELECT m.id, m.kind, m.tlp, r.org_id FROM markings m LEFT JOIN "
                f"marking_release r ON r.marking_id = m.id WHERE m.id IN ({marks})", chunk)
            for mid, kind, tlp, org in rows:
                prev = found.get(mid)
                orgs = (prev.releasable_to if prev else frozenset()) | (
                    {org} if org is not None else set())
                found[mid] = MarkingInfo(mid, kind, tlp, frozenset(orgs))
        return found

    def marking_bodies(self, ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for marks, chunk in self._chunks(ids):
            for mid, body in self._all(f"SELECT id, body FROM markings WHERE id IN ({marks}) "
                                       "AND body IS NOT NULL", chunk):
                found[mid] = bytes(body)
        return found

    # -- release facts --------------------------------------------------------------
    def origins(self, stix_ids: Sequence[str]) -> dict[str, set[str | None]]:
        found: dict[str, set[str | None]] = {}
        for marks, chunk in self._chunks(stix_ids):
            # Per collection, so that (cid, stix_id) of objects_by_version finds the rows.
            for sid, origin in self._all(f"SELECT DISTINCT stix_id, origin FROM objects "
                                         f"WHERE cid IN (SELECT cid FROM collections) "
                                         f"AND stix_id IN ({marks})", chunk):
                found.setdefault(sid, set()).add(origin)
        return found

    def object_facts(self, cid: int, stix_id: str) -> ObjectRelease | None:
        row = self._one(self._q(
            "SELECT date_added, stix_id, type, tlp, restricted, public, origin, ref_a, ref_b "
            "FROM objects WHERE cid = ? AND stix_id = ? AND is_latest = 1"), (cid, stix_id))
        if row is None:
            return None
        date_added, sid, type_, tlp, restricted, public, origin, ref_a, ref_b = row
        marks = [m for (m,) in self._all(self._q(
            "SELECT marking_id FROM object_markings WHERE date_added = ? ORDER BY marking_id"),
            (date_added,))]
        return ObjectRelease(date_added, sid, type_, tlp, tuple(marks), bool(restricted),
                             bool(public), origin, ref_a, ref_b)
