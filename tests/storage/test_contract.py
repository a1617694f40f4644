"""The storage contract: one suite, run against every engine (`engine` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from liaison.node import Node, init_node
from liaison.storage.base import (
    Collection,
    NewVersion,
    ObjectQuery,
    Principal,
    StatusRecord,
    Store,
    VersionFilter,
)
from liaison.storage.versions import CONFLICT_MESSAGE
from tests.conftest import database_for

T0 = 1_700_000_000_000_000


@pytest.fixture
def store(engine: str, tmp_path: Path) -> Iterator[Store]:
    home = tmp_path / "n"
    init_node(home, "Org", database=database_for(engine, tmp_path))
    node = Node.open(home)
    yield node.store
    node.close()


@pytest.fixture
def cid(store: Store) -> int:
    return store.add_collection(Collection(0, "c0ffee00-0000-4000-8000-000000000001", "C")).cid


def v(n: int, version: int | None, body: bytes | None = None, type_: str = "indicator") -> NewVersion:
    sid = f"{type_}--00000000-0000-4000-8000-{n:012d}"
    return NewVersion(sid, type_, version, None if version is None else f"t{version}",
                      body or f'{{"n":{n},"v":{version}}}'.encode())


def ids(store: Store, q: ObjectQuery) -> list[tuple[str, str]]:
    return [(r.id, r.version) for r in store.query(q).rows]


def test_insert_assigns_strictly_increasing_date_added_even_when_clock_stalls(store: Store, cid: int) -> None:
    store.add_objects(cid, [v(1, 10), v(2, 10)], now=T0)
    store.add_objects(cid, [v(3, 10)], now=T0 - 5_000_000)  # the clock went backwards
    rows = store.query(ObjectQuery(cid=cid, limit=10)).rows
    dates = [r.date_added for r in rows]
    assert dates == sorted(dates) and len(set(dates)) == 3
    assert dates[0] == T0 and dates[2] == T0 + 2


def test_exact_duplicate_is_success_without_new_row(store: Store, cid: int) -> None:
    first = store.add_objects(cid, [v(1, 10)], now=T0)
    again = store.add_objects(cid, [v(1, 10)], now=T0 + 1)
    assert first[0].stored and not again[0].stored and again[0].message is None
    assert len(store.query(ObjectQuery(cid=cid, versions=VersionFilter.everything())).rows) == 1


def test_conflicting_duplicate_keeps_first_copy(store: Store, cid: int) -> None:
    store.add_objects(cid, [v(1, 10, b'{"a":1}')], now=T0)
    out = store.add_objects(cid, [v(1, 10, b'{"a":2}')], now=T0 + 1)
    assert out[0].message == CONFLICT_MESSAGE
    assert store.query(ObjectQuery(cid=cid)).rows[0].body == b'{"a":1}'


def test_duplicates_inside_one_batch(store: Store, cid: int) -> None:
    out = store.add_objects(cid, [v(1, 10), v(1, 10), v(1, 20)], now=T0)
    assert [o.stored for o in out] == [True, False, True]
    assert ids(store, ObjectQuery(cid=cid, versions=VersionFilter.everything())) == [
        (v(1, 10).id, "t10"), (v(1, 20).id, "t20")]


def test_first_last_flags_follow_versions_across_batches_and_out_of_order(store: Store, cid: int) -> None:
    store.add_objects(cid, [v(1, 20)], now=T0)
    store.add_objects(cid, [v(1, 30), v(1, 10)], now=T0 + 10)
    last = ids(store, ObjectQuery(cid=cid, versions=VersionFilter(last=True)))
    first = ids(store, ObjectQuery(cid=cid, versions=VersionFilter(first=True, last=False)))
    exact = ids(store, ObjectQuery(cid=cid, versions=VersionFilter(last=False, exact=(20,))))
    assert last == [(v(1, 30).id, "t30")]
    assert first == [(v(1, 10).id, "t10")]
    assert exact == [(v(1, 20).id, "t20")]
    both = ids(store, ObjectQuery(cid=cid, versions=VersionFilter(first=True, last=True)))
    assert {x[1] for x in both} == {"t10", "t30"}


def test_sco_without_version_is_stored_once(store: Store, cid: int) -> None:
    a = store.add_objects(cid, [v(5, None, b'{"x":1}', "ipv4-addr")], now=T0)
    b = store.add_objects(cid, [v(5, None, b'{"x":1}', "ipv4-addr")], now=T0 + 99)
    assert a[0].stored and not b[0].stored and a[0].version == b[0].version
    assert a[0].version.endswith("Z") and len(a[0].version) == 27


def test_filters_and_pagination(store: Store, cid: int) -> None:
    batch = [v(i, 10, type_="indicator" if i % 2 else "malware") for i in range(20)]
    store.add_objects(cid, batch, now=T0)
    q = ObjectQuery(cid=cid, types=("malware",), limit=3)
    seen, after = [], None
    while True:
        page = store.query(ObjectQuery(cid=cid, types=("malware",), limit=3, after=after))
        seen += [r.id for r in page.rows]
        if not page.more:
            break
        after = page.rows[-1].date_added
    assert seen == [b.id for b in batch if b.type == "malware"]
    assert q.limit == 3
    only = store.query(ObjectQuery(cid=cid, ids=(batch[3].id, batch[4].id)))
    assert [r.id for r in only.rows] == [batch[3].id, batch[4].id]
    nobody = store.query(ObjectQuery(cid=cid, with_body=False, limit=1))
    assert nobody.more and nobody.rows[0].body is None


def test_collections_do_not_see_each_other(store: Store, cid: int) -> None:
    other = store.add_collection(Collection(0, "c0ffee00-0000-4000-8000-000000000002", "D")).cid
    store.add_objects(cid, [v(1, 10)], now=T0)
    store.add_objects(other, [v(2, 10)], now=T0)
    assert [r.id for r in store.query(ObjectQuery(cid=other)).rows] == [v(2, 10).id]
    assert store.count_objects(cid) == 1


def test_delete_versions_and_reflag(store: Store, cid: int) -> None:
    store.add_objects(cid, [v(1, 10), v(1, 20), v(1, 30)], now=T0)
    assert store.delete_versions(cid, v(1, 0).id, VersionFilter(last=False, exact=(30,))) == 1
    assert ids(store, ObjectQuery(cid=cid)) == [(v(1, 20).id, "t20")]
    assert store.delete_versions(cid, v(1, 0).id, VersionFilter.everything()) == 2
    assert store.query(ObjectQuery(cid=cid)).rows == []
    assert store.delete_versions(cid, v(1, 0).id, VersionFilter.everything()) == 0


def test_deleted_date_added_is_never_reused(store: Store, cid: int) -> None:
    store.add_objects(cid, [v(1, 10)], now=T0)
    gone = store.query(ObjectQuery(cid=cid)).rows[0].date_added
    store.delete_versions(cid, v(1, 0).id, VersionFilter.everything())
    store.add_objects(cid, [v(2, 10)], now=T0 - 100)
    assert store.query(ObjectQuery(cid=cid)).rows[0].date_added > gone


def test_status_is_written_in_the_same_transaction(store: Store, cid: int) -> None:
    def make(outcomes: list) -> StatusRecord:  # type: ignore[type-arg]
        return StatusRecord("s1", "p1", cid, T0, str(len(outcomes)).encode())

    store.add_objects(cid, [v(1, 10)], now=T0, make_status=make)
    rec = store.get_status("s1")
    assert rec is not None and rec.body == b"1" and rec.principal_id == "p1"
    assert store.purge_statuses(T0 + 1) == 1 and store.get_status("s1") is None


def test_failed_status_rolls_back_objects(store: Store, cid: int) -> None:
    def boom(outcomes: list) -> StatusRecord:  # type: ignore[type-arg]
        raise RuntimeError("status write failed")

    with pytest.raises(RuntimeError):
        store.add_objects(cid, [v(1, 10)], now=T0, make_status=boom)
    assert store.query(ObjectQuery(cid=cid)).rows == []


def test_principals_grants_and_meta(store: Store, cid: int) -> None:
    p = Principal("p-1", "alice", "user", "analyst", T0)
    store.add_principal(p, "h" * 64)
    assert store.principal_by_token("h" * 64) == p
    assert store.principal_by_name("alice") == p
    store.set_grant(cid, p.id, True, False)
    store.set_grant(cid, p.id, True, True)
    assert store.grants_of(p.id) == {cid: (True, True)}
    assert store.remove_grant(cid, p.id) and not store.remove_grant(cid, p.id)
    store.revoke_principal(p.id, T0 + 5)
    assert store.principal_by_name("alice").revoked_at == T0 + 5  # type: ignore[union-attr]
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2" and store.get_meta("nope") is None


def test_collection_by_id_or_alias(store: Store) -> None:
    c = store.add_collection(Collection(0, "c0ffee00-0000-4000-8000-00000000000a", "T", "alias-a"))
    assert store.collection("alias-a") == c
    assert store.collection(c.id) == c
    assert store.collection("missing") is None
