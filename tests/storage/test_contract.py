"""The storage contract: one suite, run against every engine (`engine` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from liaison.storage.registry import RegistrySQL
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


# -- added with the PostgreSQL engine: many writers, reset, NUL keys, big batches ---------
def _same_database(store: Store) -> Store:
    """A second, independent `Store` on the same database (as another process has)."""
    from liaison.storage import open_store

    url = getattr(store, "url", None) or f"sqlite:{getattr(store, 'path')}"
    return open_store(url)


def test_concurrent_writers_and_a_paging_reader_lose_and_duplicate_nothing(
        store: Store, cid: int) -> None:
    """Six writers on two stores (two "processes") and a reader paging with `after`.

    Every version is stored exactly once with a unique `date_added`; the reader, which
    only ever asks for rows after the last date it saw (TAXII `added_after` / `next`),
    ends with every row exactly once — so no transaction ever became visible with a
    date below one a reader had already passed (reliability reference, test 29).
    """
    import threading

    other = _same_database(store)
    stores, batches, size = [store, other], 12, 10
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[int, str]] = []

    def write(s: Store, w: int) -> None:
        try:
            for b in range(batches):
                base = (w * batches + b) * size
                s.add_objects(cid, [v(base + i, 10) for i in range(size)], now=T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read() -> None:
        after: int | None = None
        try:
            while True:
                finished = done.is_set()  # read once more after the last commit
                page = other.query(ObjectQuery(cid=cid, after=after, limit=7, with_body=False))
                seen.extend((r.date_added, r.id) for r in page.rows)
                if page.rows:
                    after = page.rows[-1].date_added
                elif finished:
                    return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(stores[w % 2], w)) for w in range(6)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    other.close()
    assert errors == []
    expected = {v(n, 10).id for n in range(6 * batches * size)}
    full = store.query(ObjectQuery(cid=cid, limit=10_000, with_body=False)).rows
    dates = [r.date_added for r in full]
    assert sorted(r.id for r in full) == sorted(expected)
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert [i for _d, i in seen] == [r.id for r in full]  # everything, once, in order


def test_reset_drops_the_schema_and_upgrade_rebuilds_it(store: Store, cid: int) -> None:
    from liaison.node import upgrade
    from liaison.storage import migrations

    store.add_objects(cid, [v(1, 10)], now=T0)
    store.reset()
    assert store.applied_migrations() == set()
    upgrade(store)
    assert store.applied_migrations() == {m.version for m in migrations.available(store.engine)}
    assert store.list_collections() == [] and store.get_meta("cursor_key") is None
    fresh = store.add_collection(Collection(0, "c0ffee00-0000-4000-8000-000000000003", "E")).cid
    store.add_objects(fresh, [v(2, 10)], now=T0)
    assert [r.id for r in store.query(ObjectQuery(cid=fresh)).rows] == [v(2, 10).id]


def test_keys_with_nul_match_nothing(store: Store, cid: int) -> None:
    """PostgreSQL text cannot hold U+0000; a lookup by such a key is simply not found,
    on every engine (the JSON parser already rejects it in objects)."""
    store.add_objects(cid, [v(1, 10)], now=T0)
    nul = v(1, 10).id + "\x00"
    assert store.collection("x\x00") is None
    assert store.get_status("s\x00") is None
    assert store.principal_by_name("a\x00") is None
    assert store.principal_by_token("h\x00") is None
    assert store.get_meta("k\x00") is None
    assert store.query(ObjectQuery(cid=cid, ids=(nul,))).rows == []
    assert store.query(ObjectQuery(cid=cid, types=("indicator\x00",))).rows == []
    assert [r.id for r in store.query(ObjectQuery(cid=cid, ids=(nul, v(1, 10).id))).rows] == [
        v(1, 10).id]
    assert store.delete_versions(cid, nul, VersionFilter.everything()) == 0


def test_a_large_batch_is_one_call_and_its_repeat_is_all_duplicates(store: Store, cid: int) -> None:
    batch = [v(n, 10 + n % 3, b"{" + b"x" * (n % 50) + b"}") for n in range(3000)]
    out = store.add_objects(cid, batch, now=T0)
    assert all(o.stored for o in out)
    again = store.add_objects(cid, batch, now=T0)
    assert not any(o.stored for o in again) and all(o.message is None for o in again)
    rows = store.query(ObjectQuery(cid=cid, limit=5000)).rows
    assert [(r.id, r.body) for r in rows] == [(b.id, b.body) for b in batch]
    assert store.count_objects(cid) == 3000


def test_names_list_in_byte_order(store: Store) -> None:
    """Listings sort like SQLite's BINARY collation on every engine (not by locale)."""
    names = ["b", "B", "a", "_x", "Z9", "é", "a-b", "ab", "z"]
    for n, name in enumerate(names):
        store.add_principal(Principal(f"p-{n}", name, "user", "reader", T0), f"{n:064d}")
    listed = [p.name for p in store.list_principals()]
    assert [n for n in listed if n in names] == sorted(names)


def _sql(store: Store) -> RegistrySQL:
    """The store as the SQL it runs: `Store` is the contract, and both engines' stores
    are `RegistrySQL` (their transactions and queries)."""
    assert isinstance(store, RegistrySQL)
    return store


def _rewritten(store: Store, action: Callable[[], object]) -> set[int]:
    """The `date_added` of the stored rows that `action` rewrote (SQLite: a temporary
    trigger on the store's connection; PostgreSQL: rows whose `xmin` changed)."""
    with _sql(store)._write() as tx:
        if store.engine == "sqlite":
            tx.execute("CREATE TEMP TABLE rewrites (d INTEGER)")
            tx.execute("CREATE TEMP TRIGGER count_rewrites AFTER UPDATE ON main.objects "
                       "BEGIN INSERT INTO rewrites VALUES (old.date_added); END")
        else:
            before = dict(tx.execute("SELECT date_added, xmin::text FROM objects").fetchall())
    action()
    with _sql(store)._write() as tx:
        if store.engine == "sqlite":
            done = {d for (d,) in tx.execute("SELECT d FROM rewrites").fetchall()}
            tx.execute("DROP TRIGGER count_rewrites")
            tx.execute("DROP TABLE rewrites")
            return done
        after = tx.execute("SELECT date_added, xmin::text FROM objects").fetchall()
        return {d for d, xmin in after if d in before and before[d] != xmin}


def test_a_new_version_rewrites_only_the_rows_whose_flags_change(store: Store, cid: int) -> None:
    """A newer version unflags the previous latest, an older one the previous first; the
    other stored versions keep their rows untouched (a rewritten row dirties its page)."""
    store.add_objects(cid, [v(1, 10), v(1, 20), v(1, 30)], now=T0)
    dates = {r.version: r.date_added for r in store.query(
        ObjectQuery(cid=cid, versions=VersionFilter.everything())).rows}
    assert _rewritten(store, lambda: store.add_objects(cid, [v(1, 40)], now=T0)) == {dates["t30"]}
    assert _rewritten(store, lambda: store.add_objects(cid, [v(1, 5)], now=T0)) == {dates["t10"]}
    sql = _sql(store)
    flags = {r[0]: (r[1], r[2]) for r in sql._all(
        f"SELECT version, is_latest, is_first FROM objects WHERE cid = {sql._mark}", (cid,))}
    assert flags == {5: (0, 1), 10: (0, 0), 20: (0, 0), 30: (0, 0), 40: (1, 0)}
