"""The hash chain: its unit rules, and tamper evidence on a real node's tables.

Reliability reference test 19 / goal U2: a node's audit chain (every kind of entry, from
real operations) is tampered with directly in SQL — a field updated (with or without
re-hashing that entry), a sequence number moved, a row deleted, a forged row inserted
(correctly chained to its predecessor), two rows swapped, the tail truncated — in 200
seeded random runs per kind and engine.  Each run mutates inside a transaction that is
rolled back afterwards, and `Audit.verify` (reading inside that transaction) must
report the break at exactly the first entry where the chain stops holding.

What a hash chain alone cannot show is covered by signed checkpoints
(test_checkpoint.py): a forger who appends well-chained entries, or rewrites history
and every hash after it plus the recorded head.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from liaison.audit.chain import GENESIS, AuditDraft, AuditEntry, chain, entry_hash, verify_entries
from liaison.audit.service import Audit, Verification
from liaison.node import Node, init_node
from liaison.taxii.app import create_app
from tests.audit.helpers import API, RED, Tx, cli, entries, indicator, post, sql
from tests.conftest import ENGINES, NodeFixture, basic
from tests.policy.world import module_database

RUNS = 200
EVIL = 'line\r\nbreak \x1b[31mred\x1b[0m "quote" {"json": [1]} \\ \u2028 é'
PARTNER_ORG = "identity--5d7c4f1e-8c1a-4d59-9b56-0c9a4e3b2f11"


# -- unit: the chain itself ------------------------------------------------------------

def _draft(n: int) -> AuditDraft:
    return AuditDraft("objects.add", f"c-{n}", "u-1", "ana", "identity--x", "ok", f"r-{n}",
                      {"n": n, "text": EVIL})


def _chained(count: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for n in range(1, count + 1):
        out.append(chain(_draft(n), n, 1_700_000_000_000_000 + n, prev))
        prev = out[-1].hash
    return out


def test_an_entry_hashes_its_canonical_form_and_its_predecessor() -> None:
    a, b = _chained(2)
    assert a.prev_hash == GENESIS and b.prev_hash == a.hash
    assert a.hash == entry_hash(a.canonical())
    doc = orjson.loads(a.canonical())
    assert list(doc) == sorted(doc) and "hash" not in doc and b" " not in a.canonical()[:20]
    assert chain(_draft(1), 1, a.at, GENESIS) == a  # deterministic
    assert chain(_draft(1), 1, a.at + 1, GENESIS).hash != a.hash


def test_verify_entries_reports_the_first_break_and_the_last_good_entry() -> None:
    good = _chained(5)
    assert verify_entries([]) == (None, None)
    assert verify_entries(good) == (None, good[-1])
    changed = list(good)
    changed[2] = AuditEntry(**{**good[2].as_dict(), "result": "denied"})
    broken, last = verify_entries(changed)
    assert broken is not None and (broken.seq, last) == (3, good[1])
    assert "content" in broken.reason
    broken, last = verify_entries(good[:1] + good[2:])
    assert broken is not None and broken.seq == 3 and "expected entry 2" in broken.reason
    broken, _ = verify_entries([good[1], good[0], *good[2:]])
    assert broken is not None and broken.seq == 2


# -- a real node's chain -----------------------------------------------------------------

@dataclass
class ChainNode:
    node: Node
    home: Path
    entries: list[AuditEntry]

    def verify(self) -> Verification:
        return Audit(self.node.store, self.home).verify()


def _build(home: Path, database: str | None) -> Iterator[ChainNode]:
    """A node whose chain holds every kind of entry (about 40), from real operations."""
    init = init_node(home, "Chain Org", database=database)
    node = Node.open(home)
    try:
        with TestClient(create_app(node), base_url="http://testserver") as client:
            fx = NodeFixture(home, node, init.admin_token, client)
            ex = node.exchange
            cid = fx.add_collection("Main", "main")
            fx.add_collection(EVIL, "evil")
            fx.add_user("ana", "analyst")
            fx.add_user("rita", "reader")
            ex.admin.grant(cid, "ana", read=True, write=True)
            ex.admin.grant(cid, "rita", read=True, write=False)
            fx.tokens["kabul"] = ex.partners.add("kabul", PARTNER_ORG).token
            a = ex.partners.add_agreement("kabul", ["main"], "pull", "amber")
            ex.partners.add_releasability("to-kabul", [PARTNER_ORG], str(init.org_identity["id"]))
            for n in range(6):
                assert post(fx, cid, [indicator(f"c-{n}-{i}") for i in range(3)],
                            fx.headers("ana")).status_code == 202
                assert client.get(f"{API}collections/{cid}/objects/", params={"limit": "4"},
                                  headers=fx.headers("kabul")).status_code == 200
            post(fx, cid, [indicator("red", RED)], fx.headers("rita"))
            client.get(f"{API}collections/", headers=basic(EVIL.replace(":", ""), "x"))
            client.get(f"{API}collections/")
            client.delete(f"{API}collections/{cid}/objects/{indicator('c-0-0')['id']}/",
                          headers=fx.headers())
            ex.admin.revoke_grant(cid, "rita")
            ex.admin.revoke_user("rita")
            ex.partners.revoke_agreement(a.id)
            ex.partners.remove("kabul")
        made = ChainNode(node, home, entries(node.store))
        assert made.verify().ok and len(made.entries) >= 30
        yield made
    finally:
        node.close()


@pytest.fixture(scope="module", params=ENGINES)
def cn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[ChainNode]:
    tmp = tmp_path_factory.mktemp(f"chain-{request.param}")
    with module_database(request.param, tmp) as url:
        yield from _build(tmp / "node", url)


def test_the_chain_of_a_real_node_verifies_and_holds_every_kind_of_entry(cn: ChainNode) -> None:
    kinds = {e.action for e in cn.entries}
    assert kinds >= {"node.init", "collection.add", "user.add", "grant.set", "partner.add",
                     "agreement.add", "marking.add", "objects.add", "release", "auth.fail",
                     "access.denied", "objects.delete", "grant.remove", "user.revoke",
                     "agreement.revoke", "partner.remove"}
    report = cn.verify()
    assert (report.ok, report.entries, report.head_seq) == \
        (True, len(cn.entries), cn.entries[-1].seq)


# -- mutations ------------------------------------------------------------------------------

_TEXT = ("request_id", "actor_id", "actor_name", "org", "action", "target", "result")
_FIELDS = (*_TEXT, "at", "details", "prev_hash", "hash")


def _changed(rng: random.Random, e: AuditEntry, field: str) -> Any:
    """A different, well-typed value for `field` of entry `e` (as stored)."""
    if field == "at":
        return e.at + rng.choice([-1, 1]) * rng.randint(1, 10**9)
    if field in ("prev_hash", "hash"):
        return "".join(rng.choice("0123456789abcdef") for _ in range(64))
    if field == "details":
        details = dict(e.details)
        key = rng.choice([*details, "forged"]) if details else "forged"
        details[key] = ["forged", rng.random()] if details.get(key) != "x" else "y"
        return orjson.dumps(details).decode()
    old = getattr(e, field)
    return rng.choice([v for v in ("", old + "x", old[:-1], "admin", f"forged-{rng.random()}")
                       if v != old])


def _row(e: AuditEntry) -> tuple[Any, ...]:
    return (e.seq, e.at, e.request_id, e.actor_id, e.actor_name, e.org, e.action, e.target,
            e.result, orjson.dumps(e.details).decode(), e.prev_hash, e.hash)


def _insert(tx: Tx, e: AuditEntry) -> None:
    tx("INSERT INTO audit_log (seq, at, request_id, actor_id, actor_name, org, action, target, "
       "result, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(e))


def _renumber(tx: Tx, start: int, by: int) -> None:
    """Add `by` to every seq >= start (in two steps: the primary key holds throughout)."""
    tx("UPDATE audit_log SET seq = -seq WHERE seq >= ?", (start,))
    tx("UPDATE audit_log SET seq = ? - seq WHERE seq < 0", (by,))


Expect = tuple[int, int | None]
"""(seq of the reported break, head_seq the walk reached — None: do not check)."""


def m_update(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    e = rng.choice(es)
    field = rng.choice(_FIELDS)
    tx(f"UPDATE audit_log SET {field} = ? WHERE seq = ?", (_changed(rng, e, field), e.seq))
    return e.seq, e.seq - 1


def m_rehash(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    """Change a field and give the entry the hash that fits it: the next link breaks."""
    e = rng.choice(es)
    field = rng.choice([*_TEXT, "at"])
    value = _changed(rng, e, field)
    forged = chain(AuditDraft(**{k: getattr(e, k) for k in (
        "action", "target", "actor_id", "actor_name", "org", "result", "request_id",
        "details")} | ({field: value} if field != "at" else {})),
        e.seq, value if field == "at" else e.at, e.prev_hash)
    tx("DELETE FROM audit_log WHERE seq = ?", (e.seq,))
    _insert(tx, forged)
    last = es[-1].seq
    return (e.seq + 1, e.seq) if e.seq < last else (last, last)  # else: the head disagrees


def m_move(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    e, n = rng.choice(es), es[-1].seq
    to = rng.choice([0, -rng.randint(1, 50), n + rng.randint(1, 50)])
    tx("UPDATE audit_log SET seq = ? WHERE seq = ?", (to, e.seq))
    order = sorted([*(x.seq for x in es if x is not e), to])
    first_off = next(i for i, s in enumerate(order, 1) if s != i)
    return order[first_off - 1], None


def m_delete(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    e, n = rng.choice(es), es[-1].seq
    tx("DELETE FROM audit_log WHERE seq = ?", (e.seq,))
    return (e.seq + 1, e.seq - 1) if e.seq < n else (n, n - 1)


def m_insert(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    """A forged entry at position p, chained to the entry before it, later ones renumbered."""
    n = es[-1].seq
    p = rng.randint(1, n + 1)
    prev = es[p - 2].hash if p > 1 else GENESIS
    at = es[p - 2].at if p > 1 else es[0].at
    forged = chain(AuditDraft("release", rng.choice(["main", "-"]), "x", "kabul", PARTNER_ORG,
                              "ok", "r", {"versions": [["indicator--x", "v"]]}), p, at, prev)
    if p <= n:
        _renumber(tx, p, 1)
    _insert(tx, forged)
    return (p + 1, p) if p <= n else (n, n + 1)


def m_swap(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    i, j = sorted(rng.sample([e.seq for e in es], 2))
    tx("UPDATE audit_log SET seq = -1 WHERE seq = ?", (i,))
    tx("UPDATE audit_log SET seq = ? WHERE seq = ?", (i, j))
    tx("UPDATE audit_log SET seq = ? WHERE seq = -1", (j,))
    return i, i - 1


def m_truncate(rng: random.Random, tx: Tx, es: list[AuditEntry]) -> Expect:
    n = es[-1].seq
    keep = rng.randint(0, n - 1)
    tx("DELETE FROM audit_log WHERE seq > ?", (keep,))
    return n, keep


MUTATIONS: dict[str, Callable[[random.Random, Tx, list[AuditEntry]], Expect]] = {
    "update": m_update, "update+rehash": m_rehash, "move": m_move, "delete": m_delete,
    "insert": m_insert, "swap": m_swap, "truncate": m_truncate}


@pytest.mark.parametrize("kind", list(MUTATIONS))
def test_every_random_mutation_is_detected_at_its_first_entry(cn: ChainNode, kind: str) -> None:
    rng = random.Random(f"audit-{kind}")
    store = cn.node.store
    for run in range(RUNS):
        with sql(store, keep=False) as tx:
            at_seq, walked = MUTATIONS[kind](rng, tx, cn.entries)
            report = cn.verify()
        assert not report.ok, (kind, run)
        assert report.broken is not None and report.broken.seq == at_seq, \
            (kind, run, at_seq, report.as_dict())
        if walked is not None:
            assert report.head_seq == walked, (kind, run, report.as_dict())
    assert cn.verify().ok  # every mutation was rolled back


def test_altering_only_the_recorded_head_is_detected(cn: ChainNode) -> None:
    store, n = cn.node.store, cn.entries[-1].seq
    for seq, h in ((n - 1, cn.entries[-2].hash), (n + 1, cn.entries[-1].hash),
                   (n, "0" * 64), (0, GENESIS)):
        with sql(store, keep=False) as tx:
            tx("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, h))
            report = cn.verify()
        assert report.broken is not None and report.broken.seq == seq, report.as_dict()


def test_rows_altered_beyond_their_types_are_reported_not_crashed(cn: ChainNode) -> None:
    store = cn.node.store
    e = cn.entries[5]
    for garbage in ("not json", "[1, 2]", "", "{\"a\": "):
        with sql(store, keep=False) as tx:
            tx("UPDATE audit_log SET details = ? WHERE seq = ?", (garbage, e.seq))
            report = cn.verify()
        assert report.broken is not None and report.broken.seq == e.seq
    if store.engine == "sqlite":  # SQLite keeps text in an integer column as it is
        with sql(store, keep=False) as tx:
            tx("UPDATE audit_log SET at = 'noon' WHERE seq = ?", (e.seq,))
            assert cn.verify().broken.seq == e.seq  # type: ignore[union-attr]
        with sql(store, keep=False) as tx:
            tx("UPDATE audit_log SET seq = 'six' WHERE seq = ?", (e.seq,))
            assert cn.verify().broken.seq == e.seq + 1  # type: ignore[union-attr]


def test_rows_slipped_in_outside_the_sequence_are_detected(cn: ChainNode) -> None:
    """A row below entry 1 (seq 0 or negative), or one with no seq at all (SQLite lets a
    non-rowid primary key be NULL), is reached by no walk from 1 up: it still counts."""
    store, n = cn.node.store, cn.entries[-1].seq
    forged = chain(AuditDraft("release", "main", "x", "kabul", PARTNER_ORG), 0, 1, GENESIS)
    for seq in (0, -1, -(2**62)):
        with sql(store, keep=False) as tx:
            _insert(tx, AuditEntry(**{**forged.as_dict(), "seq": seq}))
            report = cn.verify()
        assert report.broken is not None and report.broken.seq == seq, report.as_dict()
    if store.engine == "sqlite":
        with sql(store, keep=False) as tx:
            _insert(tx, AuditEntry(**{**forged.as_dict(), "seq": None}))  # type: ignore[arg-type]
            report = cn.verify()
        assert report.broken is not None and report.broken.seq == n
        assert "outside the sequence" in report.broken.reason


def test_hostile_text_stays_structurally_valid(cn: ChainNode) -> None:
    """Reference test 21: CR/LF, ANSI escapes, NUL, quotes and JSON metacharacters in a
    claimed user name and a collection title are stored, exported and printed safely."""
    denied = next(e for e in cn.entries if e.action == "auth.fail" and "line" in e.target)
    assert not any(c in denied.target for c in "\r\n\x1b\x00")
    assert "\\u000d\\u000a" in denied.target
    titled = next(e for e in cn.entries if e.action == "collection.add"
                  and e.details.get("alias") == "evil")
    assert titled.details["title"] == EVIL.strip()  # details keep the exact value, as JSON
    exported = cli("audit", "export", home=cn.home)
    lines = exported.out.split("\n")[:-1]  # (U+2028 inside a JSON string is no line end)
    assert exported.code == 0 and len(lines) == len(cn.entries)
    assert [json.loads(line)["hash"] for line in lines] == [e.hash for e in cn.entries]
    log = cli("audit", "log", "--limit", "1000", home=cn.home)
    assert log.code == 0 and log.out.count("\n") == len(cn.entries)
    assert "\x1b" not in log.out and "\r" not in log.out


def test_nul_in_a_claimed_name_is_refused_alike_on_both_engines(node_fx: NodeFixture) -> None:
    raw = base64.b64encode("a\x00b\r\nc:token".encode()).decode()
    resp = node_fx.client.get(f"{API}collections/", headers={"Authorization": f"Basic {raw}"})
    assert resp.status_code == 401
    last = entries(node_fx.node.store)[-1]
    assert (last.action, last.target) == ("auth.fail", "a\\u0000b\\u000d\\u000ac")
