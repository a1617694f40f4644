"""The limits: what the stack under Liaison costs with no server on top.

Same JSON parser (`liaison.stix.jsonparse.parse_json`) on the same envelope bytes; the
same canonical serialisation (`orjson.dumps(..., OPT_SORT_KEYS)`) to get one stored
body per object; the same SQLite schema, indexes and pragmas (a scratch database made
by `SQLiteStore` + the project's migrations, so WAL and synchronous=FULL, committed
through the store so the WAL is checkpointed on its background thread), rows
inserted with `executemany` in large transactions — the same rows the server writes for
each object: the object, its markings, and its search index rows (observable values and
the full-text row, computed with the server's own code outside the timed part); then
the same page SQL the store
runs (`liaison.storage.sql.page_sql`), with the stored bytes spliced into envelopes.
No HTTP, no validation, no policy, no status resources: nothing built on this stack
can do the same work faster.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import orjson

from bench.gen import Dataset
from bench.stats import Deadline, latency_summary
from liaison.node import upgrade
from liaison.search.index import entry as index_entry
from liaison.search.observables import INDEXED_SCO_TYPES
from liaison.stix.jsonparse import parse_json
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage import sql
from liaison.storage.base import Collection, ObjectQuery, VersionFilter
from liaison.storage.sqlite import SQLiteStore

_INSERT = ("INSERT INTO objects (date_added, cid, stix_id, type, version, version_text, "
           "is_latest, is_first, body, tlp, restricted, public, origin, ref_a, ref_b) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_MARK = "INSERT INTO object_markings (date_added, marking_id) VALUES (?, ?)"
_OBSERVABLE = ("INSERT INTO observables (date_added, kind, value, lo, hi, via) "
               "VALUES (?, ?, ?, ?, ?, ?)")
_TEXT = "INSERT INTO search_text (rowid, names, terms, prose) VALUES (?, ?, ?, ?)"
_SORT = orjson.OPT_SORT_KEYS


def _flags(ds: Dataset) -> tuple[dict[str, int], dict[str, int]]:
    """Index (global position) of the first and last version of every id."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    pos = 0
    for metas in ds.metas:
        for m in metas:
            first.setdefault(m.id, pos)
            last[m.id] = pos
            pos += 1
    return first, last


def run_limits(ds: Dataset, *, txn_rows: int = 50_000, reps: int = 50,
               single_gets: int = 500, ids_per_query: int = 100, page: int = 1000,
               export_page: int = 5000, filter_page: int = 100,
               cap_seconds: float = 600.0, log=print) -> dict:
    """Parse, serialise, insert, then read back; return the figures."""
    out: dict = {}
    # -- parse -------------------------------------------------------------------
    # One envelope at a time, as a server sees them (holding every parsed object of a
    # large N at once would only measure the garbage collector).
    t_parse = t_dump = 0.0
    bodies = []
    entries = []  # the search index rows the server writes, computed untimed
    for env in ds.envelopes:
        t0 = time.perf_counter()
        objs = parse_json(env)["objects"]
        t1 = time.perf_counter()
        # -- serialise one canonical body per object --------------------------------
        bodies.append([orjson.dumps(o, option=_SORT) for o in objs])
        t_parse += t1 - t0
        t_dump += time.perf_counter() - t1
        entries.append([index_entry(o, "sco" if o["type"] in INDEXED_SCO_TYPES else "other")
                        for o in objs])
        del objs
    first, last = _flags(ds)
    work = Path(tempfile.mkdtemp(prefix="liaison-bench-limit-"))
    try:
        rows: list[tuple] = []
        marks: list[tuple] = []
        values: list[tuple] = []
        docs: list[tuple] = []
        pos = 0
        date = 1_700_000_000_000_000
        cid = 1  # the first collection of a fresh database
        for metas, bs, es in zip(ds.metas, bodies, entries):
            for m, body, (observed, fields) in zip(metas, bs, es):
                date += 1
                version = m.version_us if m.version_us is not None else date
                text = m.version_text or format_taxii_timestamp(date)
                rows.append((date, cid, m.id, m.type, version, text, int(last[m.id] == pos),
                             int(first[m.id] == pos), body, m.tlp, 0, 0, None, m.ref_a, m.ref_b))
                marks.extend((date, mk) for mk in m.markings)
                values.extend((date, *o) for o in observed)
                if fields:
                    docs.append((date, *fields))
                pos += 1
        del bodies, entries

        tables = {"marks": (_MARK, marks), "values": (_OBSERVABLE, values),
                  "docs": (_TEXT, docs)}

        def insert(name: str, batch_rows: int, rows: list[tuple], tables: dict):
            store = _fresh_db(work / name, cid)
            t = time.perf_counter()
            at = {"marks": 0, "values": 0, "docs": 0}

            def upto(name: str, table: list[tuple], hi: int) -> list[tuple]:
                i = j = at[name]
                while j < len(table) and table[j][0] <= hi:
                    j += 1
                at[name] = j
                return table[i:j]

            for i in range(0, len(rows), batch_rows):
                chunk = rows[i : i + batch_rows]
                hi = chunk[-1][0]
                with store._write() as conn:  # the store's commit, WAL checkpoints and all
                    conn.executemany(_INSERT, chunk)
                    for key, (statement, table) in tables.items():
                        conn.executemany(statement, upto(key, table, hi))
            return time.perf_counter() - t, store

        # Envelope-sized transactions first (what a server doing one commit per POST
        # pays), then the limit proper: large transactions.
        t_insert_env, store = insert("envelope.db", ds.envelope_size, rows, tables)
        store.close()
        for p in work.glob("envelope.db*"):
            p.unlink()
        log(f"  limit: insert in {ds.envelope_size}-row transactions: {t_insert_env:.2f}s")
        t_insert, store = insert("limit.db", txn_rows, rows, tables)
        conn = store._conn()
        n = len(rows)
        raw = t_parse + t_dump + t_insert
        out["ingest"] = {
            "objects": n, "seconds": raw, "objects_per_s": n / raw, "us_per_object": raw / n * 1e6,
            "parse_s": t_parse, "serialise_s": t_dump, "insert_s": t_insert,
            "txn_rows": txn_rows,
            "envelope_txn": {"seconds": t_parse + t_dump + t_insert_env,
                             "objects_per_s": n / (t_parse + t_dump + t_insert_env),
                             "insert_s": t_insert_env},
        }
        log(f"  limit: parse {t_parse:.2f}s, serialise {t_dump:.2f}s, insert {t_insert:.2f}s "
            f"-> {n / raw:,.0f} objects/s")
        dates = [r[0] for r in rows]
        del rows, marks, values, docs, tables
        out.update(_reads(conn, cid, ds, dates, reps=reps, single_gets=single_gets,
                          ids_per_query=ids_per_query, page=page, export_page=export_page,
                          filter_page=filter_page, cap=cap_seconds))
        store.close()
        out["db_bytes"] = sum(p.stat().st_size for p in work.iterdir())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _fresh_db(path: Path, cid: int) -> SQLiteStore:
    """A database made by the real store and migrations, opened by the store (the same
    pragmas, and the same background WAL checkpoints after each commit)."""
    store = SQLiteStore(path, create=True)
    upgrade(store)
    coll = store.add_collection(Collection(0, f"collection--{path.stem}", path.stem, path.stem))
    assert coll.cid == cid
    store.close()
    return SQLiteStore(path)


def _page(conn, q: ObjectQuery) -> tuple[list[tuple], bool]:
    text, params = sql.page_sql(q, "?")
    rows = conn.execute(text, params).fetchall()
    more = len(rows) > q.limit
    return (rows[: q.limit] if more else rows), more


def _splice(rows: list[tuple]) -> bytes:
    if not rows:
        return b"{}"
    return b'{"more":false,"objects":[' + b",".join(r[3] for r in rows) + b"]}"


def _walk(conn, q: ObjectQuery, render) -> tuple[int, float, list[float]]:
    """Read every page of `q`; (items, seconds, page latencies)."""
    count, lat = 0, []
    t0 = time.perf_counter()
    after = None
    while True:
        t = time.perf_counter()
        rows, more = _page(conn, replace(q, after=after))
        render(rows)
        lat.append(time.perf_counter() - t)
        count += len(rows)
        if not more:
            break
        after = rows[-1][0]
    return count, time.perf_counter() - t0, lat


def _manifest(rows: list[tuple]) -> bytes:
    return orjson.dumps({"more": False, "objects": [
        {"id": r[1], "date_added": format_taxii_timestamp(r[0]), "version": r[2],
         "media_type": "application/stix+json;version=2.1"} for r in rows]})


def _timed(fn, n: int, deadline: Deadline) -> list[float]:
    lat = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
        if deadline.expired():
            break
    return lat


def _reads(conn, cid: int, ds: Dataset, dates: list[int], *, reps: int, single_gets: int,
           ids_per_query: int, page: int, export_page: int, filter_page: int, cap: float) -> dict:
    out: dict = {}
    count, secs, lat = _walk(conn, ObjectQuery(cid=cid, limit=page), _splice)
    out["full_read"] = {"objects": count, "seconds": secs, "objects_per_s": count / secs,
                        "page": latency_summary(lat)}
    count, secs, lat = _walk(conn, ObjectQuery(cid=cid, limit=page, with_body=False), _manifest)
    out["manifest"] = {"objects": count, "seconds": secs, "objects_per_s": count / secs,
                       "page": latency_summary(lat)}
    count, secs, lat = _walk(conn, ObjectQuery(cid=cid, limit=export_page,
                                               versions=VersionFilter.everything()), _splice)
    out["export"] = {"objects": count, "seconds": secs, "objects_per_s": count / secs,
                     "page": latency_summary(lat)}
    types = sorted(ds.type_counts)
    dl = Deadline(cap)
    out["filter_type"] = latency_summary(_timed(
        lambda i: _splice(_page(conn, ObjectQuery(cid=cid, types=(types[i % len(types)],),
                                                  limit=filter_page))[0]), reps, dl))
    n = len(dates)
    out["filter_added_after"] = latency_summary(_timed(
        lambda i: _splice(_page(conn, ObjectQuery(cid=cid, after=dates[(i * 7919) % n],
                                                  limit=filter_page))[0]), reps, dl))
    ids = ds.sample_ids
    out["filter_ids"] = latency_summary(_timed(
        lambda i: _splice(_page(conn, ObjectQuery(
            cid=cid, ids=tuple(ids[(i * ids_per_query + k) % len(ids)] for k in range(ids_per_query)),
            limit=page))[0]), reps, dl))
    out["single_get"] = latency_summary(_timed(
        lambda i: _splice(_page(conn, ObjectQuery(cid=cid, ids=(ids[i % len(ids)],),
                                                  limit=page))[0]), single_gets, dl))
    return out
