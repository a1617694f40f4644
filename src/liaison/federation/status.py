"""Sync health per (agreement, collection, direction): what `liaison partner status`
and the web dashboard show — last success, objects moved, lag, last error, progress."""

from __future__ import annotations

from typing import Any

from liaison.exchange import Exchange
from liaison.federation.state import directions, progress
from liaison.stix.timestamps import format_taxii_timestamp, now_us
from liaison.storage.base import SyncKey, SyncState


def _ts(us: int | None) -> str | None:
    return format_taxii_timestamp(us) if us is not None else None


def _ago(us: int | None, now: int) -> str:
    if us is None:
        return "never"
    s = max(0, (now - us) // 1_000_000)
    return f"{s} s ago" if s < 120 else f"{s // 60} min ago" if s < 7200 else f"{s // 3600} h ago"


def status_rows(exchange: Exchange, partner_name: str | None) -> list[dict[str, Any]]:
    """One row per (agreement, collection, direction) of the partner(s), with its state."""
    partners = ([exchange.partners.get(partner_name)] if partner_name
                else exchange.partners.list())
    names = {c.cid: c.alias or c.id for c in exchange.store.list_collections()}
    now = now_us()
    rows = []
    for p in partners:
        for a in exchange.store.agreements(p.id):
            states = {s.key: s for s in exchange.store.sync_states(a.id)}
            for cid, remote in zip(a.cids, a.remote_collections, strict=False):
                for d in directions(a):
                    s = states.get(SyncKey(a.id, cid, d), SyncState(SyncKey(a.id, cid, d)))
                    running = (s.lease_owner is not None and s.lease_until is not None
                               and s.lease_until > now)
                    note = ("agreement not active" if not a.active(now)
                            else "no --remote-collection" if not remote
                            else "no partner URL/token" if not (p.url and p.remote_token)
                            else None)
                    rows.append({
                        "partner": p.name, "agreement": a.id, "collection": names.get(cid),
                        "remote_collection": remote, "direction": d, "note": note,
                        "last_success": _ts(s.last_success), "objects_moved": s.moved,
                        "refused": s.failed,
                        "lag_seconds": None if s.caught_up_at is None
                        else (now - s.caught_up_at) // 1_000_000,
                        "last_error": s.last_error, "last_error_at": _ts(s.last_error_at),
                        "running": running, "progress": progress(s) if running else None,
                        "recent_failures": [{"id": f.stix_id, "version": f.version,
                                             "message": f.message}
                                            for f in exchange.store.sync_failures(s.key, 3)],
                        "_success_ago": _ago(s.last_success, now)})
    return rows


