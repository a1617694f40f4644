"""SQLite and PostgreSQL give byte-identical answers to the same requests.

The same script — envelopes that are valid, invalid and odd (reliability reference,
tests 31 and 32: NUL, lone surrogates, NaN, huge numbers, duplicate names, deep
nesting, bad UTF-8, bad timestamps and ids), then reads with every filter, paging by
`next` and `added_after`, deletes, statuses, a partner's policy-filtered view, the
`explain` endpoint and bad parameters — runs once against a node on each engine.  Ids, clocks and the cursor key
are made deterministic for the run, so every response (status code, TAXII headers,
body) must be equal byte for byte.
"""

from __future__ import annotations

import itertools
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

import liaison.cursor
from liaison.errors import BadRequest
from liaison.node import Node, init_node
from liaison.stix import timestamps
from liaison.taxii.app import create_app
from liaison.taxii.media import TAXII_21
from tests.conftest import NodeFixture, basic, needs_postgres, postgres_schema_url
from tests.taxii.harness import sco_id, tlp_green_2

T0 = 1_800_000_000_000_000
KEPT_HEADERS = ("content-type", "x-taxii-date-added-first", "x-taxii-date-added-last",
                "www-authenticate")
T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"
ORG_P = "identity--7d5a0b1e-1f3b-4c5e-9d7a-3b2c1d0e9f8a"


@dataclass(frozen=True)
class Answer:
    step: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@contextmanager
def deterministic() -> Iterator[Callable[[], None]]:
    """Ids from a counter, a clock that ticks 1 ms per reading, a fixed wall time for
    cursors.  Yields `restart_clock`: node set-up reads the clock once per migration
    it applies, and test databases may come migrated already.

    The clock is replaced under `now_us` (its `time` module), so every module that
    imported `now_us` — before or during the run — reads the same ticks.
    """
    ids = itertools.count(1)
    clock = [itertools.count(T0, 1_000)]

    def restart_clock() -> None:
        clock[0] = itertools.count(T0, 1_000)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(ids), version=4))
        mp.setattr(timestamps, "time", types.SimpleNamespace(
            time_ns=lambda: next(clock[0]) * 1_000))
        if isinstance(getattr(liaison.cursor, "time", None), types.ModuleType):
            mp.setattr(liaison.cursor, "time", types.SimpleNamespace(time=lambda: 1.8e9))
        assert timestamps.now_us() == T0, "now_us no longer reads time.time_ns"
        restart_clock()
        yield restart_clock


def indicator(oid: str, modified: str, **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": oid, "created": T1,
            "modified": modified, "name": "bad address", "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '198.51.100.3']",
            "valid_from": "2024-01-01T00:00:00Z", **extra}


I1 = "indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8"
MW = "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"
ID1 = "identity--311b2d2d-f010-4473-83ec-1edf84858f4c"
REL = "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad"
GREEN = tlp_green_2()
SCO = {"type": "ipv4-addr", "spec_version": "2.1",
       "id": sco_id("ipv4-addr", {"value": "198.51.100.3"}), "value": "198.51.100.3"}
VALID = [
    indicator(I1, T1, object_marking_refs=[GREEN["id"]]), GREEN, SCO,
    {"type": "identity", "spec_version": "2.1", "id": ID1, "created": T1, "modified": T1,
     "name": "ACME CERT \U0001f9a0 \u2028 \u202e \\u0000 e\u0301", "identity_class": "organization"},
    {"type": "malware", "spec_version": "2.1", "id": MW, "created": T1, "modified": T1,
     "name": "x" * 100_000, "is_family": False, "object_marking_refs": [GREEN["id"]]},
    {"type": "relationship", "spec_version": "2.1", "id": REL, "created": T1, "modified": T1,
     "relationship_type": "indicates", "source_ref": I1, "target_ref": MW,
     "object_marking_refs": [GREEN["id"]]},
]


def envelopes() -> list[tuple[str, bytes]]:
    """(label, raw body): valid, repeated, conflicting, semantically bad, malformed JSON."""
    dumps = orjson.dumps
    bad = indicator("indicator--1b3d1e6c-2b9a-4bd0-9ad8-6c8ba2c0d1e2", T1)
    out = [
        ("valid", dumps({"objects": VALID})),
        ("same again", dumps({"objects": VALID})),
        ("newer versions", dumps({"objects": [indicator(I1, T3), indicator(I1, T2)]})),
        ("conflicting copy", dumps({"objects": [indicator(I1, T2, name="other")]})),
        ("a bundle", dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                            "objects": [indicator("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", T1)]})),
        ("mixed good and bad", dumps({"objects": [
            indicator("indicator--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", T1),
            {**bad, "modified": "2016-12-31T23:59:60Z"},
            {**bad, "modified": "2024-01-01T00:00:00+01:00"},
            {**bad, "modified": "2023-01-01T00:00:00Z"},
            {**bad, "id": "indicator--00000000-0000-0000-0000-000000000000"},
            {**bad, "id": "indicator--6BA7B810-9DAD-41D1-80B4-00C04FD430C9"},
            {**bad, "id": "malware--6ba7b810-9dad-41d1-80b4-00c04fd430c9"},
            {**bad, "created": "10000-01-01T00:00:00Z"},
            {"type": "indicator"}, {**bad, "description": "\u007f \ud7ff \ue000 \uffff"},
        ]})),
        ("items that are not objects", dumps({"objects": [VALID[0], [], "text", None]})),
        ("NUL in a string", b'{"objects":[{"type":"indicator","name":"a\\u0000b"}]}'),
        ("NUL in a member name", b'{"objects":[{"type":"indicator","a\\u0000":1}]}'),
        ("lone surrogate", b'{"objects":[{"type":"indicator","name":"\\ud800"}]}'),
        ("NaN", b'{"objects":[{"type":"indicator","confidence":NaN}]}'),
        ("1e400", b'{"objects":[{"type":"indicator","confidence":1e400}]}'),
        ("5000 digits", b'{"objects":[{"type":"indicator","confidence":' + b"9" * 5000 + b"}]}"),
        ("2^53", b'{"objects":[{"type":"indicator","confidence":9007199254740993}]}'),
        ("duplicate names", b'{"objects":[{"id":"indicator--a","id":"indicator--b"}]}'),
        ("deep nesting", b'{"objects":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ("BOM", b"\xef\xbb\xbf" + dumps({"objects": VALID[:1]})),
        ("bad UTF-8", b'{"objects":[{"type":"indicator","name":"\xff"}]}'),
        ("overlong UTF-8", b'{"objects":[{"type":"indicator","name":"\xc0\xaf"}]}'),
        ("trailing garbage", dumps({"objects": VALID[:1]}) + b"x"),
        ("empty body", b""),
        ("empty objects", b'{"objects":[]}'),
        ("objects not a list", b'{"objects":{}}'),
        ("not an object", b'"objects"'),
        ("no objects", b"{}"),
    ]
    return out


def script(client: TestClient, admin: dict[str, str], partner: dict[str, str],
           cols: dict[str, str]) -> list[Answer]:
    answers: list[Answer] = []

    def ask(step: str, method: str, url: str, *, headers: dict[str, str] | None = None,
            params: Any = None, content: bytes | None = None) -> Any:
        resp = client.request(method, url, headers=headers or admin, params=params,
                              content=content)
        kept = tuple((k, resp.headers[k]) for k in KEPT_HEADERS if k in resp.headers)
        answers.append(Answer(step, resp.status_code, kept, resp.content))
        try:
            return orjson.loads(resp.content) if resp.content else None
        except orjson.JSONDecodeError:
            return None

    rw = f"/api/collections/{cols['rw']}/"
    post_headers = {**admin, "Content-Type": TAXII_21}
    for label, body in envelopes():
        status = ask(f"POST {label}", "POST", rw + "objects/", headers=post_headers,
                     content=body)
        if isinstance(status, dict) and "id" in status:
            ask(f"status of {label}", "GET", f"/api/status/{status['id']}/")
    ask("POST wrong content type", "POST", rw + "objects/",
        headers={**admin, "Content-Type": "application/json"}, content=b'{"objects":[]}')

    for step, url in [("discovery", "/taxii2/"), ("api root", "/api/"),
                      ("collections", "/api/collections/"), ("collection", rw)]:
        ask(step, "GET", url)
    reads: list[tuple[str, dict[str, str]]] = [
        ("latest", {}), ("all versions", {"match[version]": "all"}),
        ("first", {"match[version]": "first"}), ("first,last", {"match[version]": "first,last"}),
        ("exact", {"match[version]": T2}), ("types", {"match[type]": "indicator,malware"}),
        ("ids", {"match[id]": f"{I1},{MW}", "match[version]": "all"}),
        ("unknown id", {"match[id]": "indicator--9a9a9a9a-9a9a-4a9a-8a9a-9a9a9a9a9a9a"}),
        ("spec 2.0", {"match[spec_version]": "2.0"}), ("spec 2.1", {"match[spec_version]": "2.1"}),
        ("added_after", {"added_after": "2027-01-15T08:00:00.004Z", "match[version]": "all"}),
        ("limit 0", {"limit": "0"}), ("limit -1", {"limit": "-1"}),
        ("limit huge", {"limit": "1000000000000"}), ("bad version", {"match[version]": "bogus"}),
        ("bad next", {"next": "garbage"}), ("bad added_after", {"added_after": "yesterday"}),
        ("bad id", {"match[id]": "not-an-id"}), ("repeated value", {"match[type]": "a,a"}),
    ]
    for kind in ("objects/", "manifest/"):
        for step, params in reads:
            ask(f"{kind} {step}", "GET", rw + kind, params=params)
        params = {"limit": "2", "match[version]": "all"}
        for page in range(50):  # follow `next` to the end
            doc = ask(f"{kind} page {page}", "GET", rw + kind, params=params)
            if not (isinstance(doc, dict) and doc.get("more")):
                break
            params = {"limit": "2", "match[version]": "all", "next": doc["next"]}
    for step, url, params in [
        ("object", f"{rw}objects/{I1}/", {"match[version]": "all"}),
        ("versions", f"{rw}objects/{I1}/versions/", None),
        ("sco", f"{rw}objects/{SCO['id']}/", None),
        ("missing object", f"{rw}objects/indicator--9a9a9a9a-9a9a-4a9a-8a9a-9a9a9a9a9a9a/", None),
        ("NUL object id", f"{rw}objects/indicator--%00/", None),
        ("NUL collection", "/api/collections/%00/objects/", None),
        ("NUL status", "/api/status/%00/", None),
        ("unknown collection", "/api/collections/nope/", None),
        ("unknown status", "/api/status/2b4a6e64-7f0e-4e5c-9b8a-1f2e3d4c5b6a/", None),
        ("no trailing slash", rw + "objects", None),
    ]:
        ask(step, "GET", url, params=params)
    ask("wrong Accept", "GET", rw + "objects/", headers={**admin, "Accept": "application/json"})
    ask("no credentials", "GET", rw + "objects/", headers={"Accept": TAXII_21})

    for step, url in [("partner collections", "/api/collections/"),
                      ("partner objects", rw + "objects/?match[version]=all"),
                      ("partner manifest", rw + "manifest/?match[version]=all"),
                      ("partner relationship", f"{rw}objects/{REL}/"),
                      ("partner other collection", f"/api/collections/{cols['other']}/objects/")]:
        ask(step, "GET", url, headers=partner)

    for step, url in [("explain", f"/liaison/policy/explain/{REL}/?partner=partner-p"),
                      ("explain NUL", "/liaison/policy/explain/%00/?partner=partner-p"),
                      ("explain NUL partner", f"/liaison/policy/explain/{REL}/?partner=%00"),
                      ("explain unknown", f"/liaison/policy/explain/{MW}/?partner=nobody")]:
        ask(step, "GET", url, headers={"Authorization": admin["Authorization"]})

    ask("delete one version", "DELETE", f"{rw}objects/{I1}/", params={"match[version]": T2})
    ask("after delete", "GET", f"{rw}objects/{I1}/versions/")
    ask("delete everything", "DELETE", f"{rw}objects/{I1}/")
    ask("delete again", "DELETE", f"{rw}objects/{I1}/")
    ask("after delete all", "GET", rw + "manifest/", params={"match[version]": "all"})
    return answers


def run_on(home: Path, database: str | None) -> list[Answer]:
    with deterministic() as restart_clock:
        made = init_node(home, "Differential Org", database=database)
        node = Node.open(home)
        try:
            node.store.set_meta("cursor_key", "5a" * 32)
        finally:
            node.close()
        restart_clock()  # from here on, both runs make the same calls in the same order
        node = Node.open(home)
        try:
            ex = node.exchange
            cols = {"rw": ex.admin.add_collection("Shared", "shared").id,
                    "other": ex.admin.add_collection("Other", "other").id}
            partner = ex.partners.add("partner-p", ORG_P)
            ex.partners.add_agreement("partner-p", ["shared"], "pull", "green")
            with TestClient(create_app(node), base_url="http://testserver") as client:
                return script(client, basic("admin", made.admin_token),
                              basic("partner-p", partner.token), cols)
        finally:
            node.close()


@needs_postgres
def test_sqlite_and_postgres_answer_byte_for_byte_alike(tmp_path: Path) -> None:
    on_sqlite = run_on(tmp_path / "sqlite", None)
    on_postgres = run_on(tmp_path / "postgres", postgres_schema_url())
    assert len(on_sqlite) == len(on_postgres)
    for a, b in zip(on_sqlite, on_postgres, strict=True):
        assert a == b, f"the engines differ at step {a.step!r}:\nsqlite:   {a}\npostgres: {b}"
    statuses = {a.status for a in on_sqlite}
    assert {200, 202, 400, 404}.issubset(statuses)  # the script reached every kind of answer
    assert all(a.status < 500 for a in on_sqlite), [a for a in on_sqlite if a.status >= 500]


def test_nul_in_collection_text_is_refused_alike_on_every_engine(node_fx: NodeFixture) -> None:
    """Text a person types (not parsed JSON) is checked too: PostgreSQL could not store
    it, so no engine does."""
    with pytest.raises(BadRequest, match="NUL"):
        node_fx.node.exchange.admin.add_collection("bad\x00title")
    with pytest.raises(BadRequest, match="NUL"):
        node_fx.node.exchange.admin.add_collection("ok", description="bad\x00")
