"""Shared harness of the TAXII conformance and bad-input suites (reference §4).

`call` sends one request through the node's in-process client and asserts the
implicit checks (a)-(d) of reference §4 on the response, plus this node's own
promises that hold on every response: no 5xx, the TAXII Content-Type on every
response (reference §1.1: "every response, success or failure"), `next` whenever
`more` is true (reference §1.6 node decision), and every STIX object served in an
envelope is valid STIX 2.1 according to `stix2-validator`.

`World` builds the harness inputs of reference §4: user U (an analyst), collections
RW, RO, WO and NA with U's grants, and the fixtures I1 (three versions t1 < t2 < t3,
marked with M), ID1, S1 (an ipv4-addr with its deterministic id) and M (the
standard TLP:GREEN 2.0 marking-definition; the node reserves the TLP ids).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from stix2validator import ValidationOptions, validate_instance

from liaison.stix.ids import SCO_NAMESPACE
from liaison.stix.markings import standard_marking_definitions
from liaison.taxii.media import TAXII_21
from tests.conftest import NodeFixture, basic

R = "/api/"
A21 = {"Accept": TAXII_21}
CT21 = {"Content-Type": TAXII_21}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DATE_HEADERS = ("X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last")
TLP_GREEN_2 = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"

_VALIDATION = ValidationOptions(version="2.1")
_validated: set[bytes] = set()


# -- implicit checks ------------------------------------------------------------------
def _media_type(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = value.replace(" ", "").lower().split(";")
    return kind, dict(p.partition("=")[::2] for p in params if p)


def is_taxii21(content_type: str | None) -> bool:
    """(a): media type application/taxii+json with version=2.1, case and spaces ignored."""
    if not content_type:
        return False
    kind, params = _media_type(content_type)
    return kind == "application/taxii+json" and params.get("version") == "2.1"


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, str | None, Any]]:
    """Every (path, member name, value) of a JSON document."""
    stack: list[tuple[str, str | None, Any]] = [(path, None, value)]
    while stack:
        where, name, v = stack.pop()
        yield where, name, v
        if isinstance(v, dict):
            stack.extend((f"{where}.{k}", k, item) for k, item in v.items())
        elif isinstance(v, list):
            stack.extend((f"{where}[{n}]", None, item) for n, item in enumerate(v))


def validate_stix(obj: dict[str, Any]) -> None:
    """Assert `obj` is valid STIX 2.1 for stix2-validator (cached by content)."""
    key = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    if key in _validated:
        return
    result = validate_instance(obj, _VALIDATION)
    assert result.is_valid, f"served invalid STIX {obj.get('id')}: {[str(e) for e in result.errors]}"
    _validated.add(key)


def check_response(resp: httpx.Response) -> None:
    """Reference §4 implicit checks (a)-(d), applied to every response of the suites."""
    code = resp.status_code
    where = f"{resp.request.method} {resp.request.url} -> {code}"
    assert code < 500, f"{where}: server error {resp.text[:300]}"
    ctype = resp.headers.get("content-type")
    if 200 <= code < 300 or resp.content:
        assert is_taxii21(ctype), f"{where}: Content-Type {ctype!r} is not TAXII 2.1"  # (a)
    for name in DATE_HEADERS:
        if name in resp.headers:
            assert TIMESTAMP.match(resp.headers[name]), f"{where}: {name} {resp.headers[name]}"  # (d)
    if not resp.content:
        return
    doc = orjson.loads(resp.content)
    for path, name, value in _walk(doc):
        assert value != [], f"{where}: empty list at {path} (TAXII §2)"  # (b)
        if name in ("date_added", "request_timestamp"):
            assert isinstance(value, str) and TIMESTAMP.match(value), f"{where}: {path}={value!r}"  # (d)
    if code >= 400:  # (c)
        assert isinstance(doc, dict) and isinstance(doc.get("title"), str), f"{where}: {doc}"
        if "http_status" in doc:
            assert doc["http_status"] == str(code), f"{where}: http_status {doc['http_status']!r}"
        return
    if isinstance(doc, dict) and doc.get("more") is True:
        assert isinstance(doc.get("next"), str) and doc["next"], f"{where}: more without next"
    path = urlsplit(str(resp.request.url)).path
    if resp.request.method == "GET" and "/objects/" in path and not path.endswith("/versions/"):
        for obj in doc.get("objects", []):
            validate_stix(obj)


def call(client: httpx.Client, method: str, url: str, *, omit: Iterable[str] = (),
         **kw: Any) -> httpx.Response:
    """Send one request (dropping the `omit` headers) and run `check_response` on it."""
    request = client.build_request(method, url, **kw)
    for name in omit:
        if name in request.headers:
            del request.headers[name]
    resp = client.send(request)
    check_response(resp)
    return resp


def assert_error(resp: httpx.Response, code: int) -> dict[str, Any]:
    """A TAXII error body (§3.6.1) with a title and http_status equal to `code`."""
    assert resp.status_code == code, f"expected {code}, got {resp.status_code}: {resp.text[:300]}"
    doc = resp.json()
    assert isinstance(doc["title"], str) and doc["title"]
    assert doc["http_status"] == str(code)
    return doc


# -- fixtures --------------------------------------------------------------------------
def sco_id(type_: str, contributing: dict[str, Any]) -> str:
    """Deterministic SCO id (STIX §2.9): UUIDv5 over the JCS of the contributing properties."""
    name = orjson.dumps(contributing, option=orjson.OPT_SORT_KEYS).decode()
    return f"{type_}--{uuid.uuid5(SCO_NAMESPACE, name)}"


def tlp_green_2() -> dict[str, Any]:
    return next(m for m in standard_marking_definitions() if m["id"] == TLP_GREEN_2)


def indicator(oid: str, modified: str, created: str = T1, **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": oid, "created": created,
            "modified": modified, "name": "bad address", "pattern_type": "stix",
            "pattern": "[ipv4-addr:value = '198.51.100.3']",
            "valid_from": "2024-01-01T00:00:00Z", **extra}


@dataclass
class World:
    """The reference §4 harness inputs on one fresh node (`node_fx`)."""

    fx: NodeFixture
    user: str = "U"
    cols: dict[str, str] = field(default_factory=dict)
    i1: str = field(default_factory=lambda: f"indicator--{uuid.uuid4()}")
    id1: str = field(default_factory=lambda: f"identity--{uuid.uuid4()}")

    def __post_init__(self) -> None:
        self.fx.add_user(self.user, "analyst")
        grants = {"RW": (True, True), "RO": (True, False), "WO": (False, True), "NA": None}
        for name, grant in grants.items():
            self.cols[name] = self.fx.add_collection(f"{name} collection", name.lower())
            if grant is not None:
                self.fx.node.exchange.admin.grant(self.cols[name], self.user,
                                                  read=grant[0], write=grant[1])
        self.m = tlp_green_2()
        self.i1_at = {t: indicator(self.i1, t, object_marking_refs=[self.m["id"]])
                      for t in (T1, T2, T3)}
        self.id1_obj = {"type": "identity", "spec_version": "2.1", "id": self.id1,
                        "created": T1, "modified": T1, "name": "ACME CERT",
                        "identity_class": "organization"}
        self.s1_obj = {"type": "ipv4-addr", "spec_version": "2.1",
                       "id": sco_id("ipv4-addr", {"value": "198.51.100.3"}),
                       "value": "198.51.100.3"}
        self.s1 = self.s1_obj["id"]
        assert self.s1 == "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"  # reference §2.1
        self.tlp = [m["id"] for m in standard_marking_definitions()]

    def loaded(self) -> set[tuple[str, str | None]]:
        """(id, modified) of the latest versions in RW after `load`: I1@t3, ID1, S1 and
        the nine standard TLP definitions (M among them) that marked content brings."""
        return {(self.i1, T3), (self.id1, T1), (self.s1, None)} | {(t, None) for t in self.tlp}

    # -- requests -----------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        return self.fx.client

    def headers(self, user: str | None = None, **extra: str) -> dict[str, str]:
        user = user or self.user
        h = basic(user, self.fx.admin_token if user == "admin" else self.fx.tokens[user])
        h.update(extra)
        return h

    def col(self, name: str, rest: str = "") -> str:
        return f"{R}collections/{self.cols.get(name, name)}/{rest}"

    def get(self, url: str, params: Any = None, *, user: str | None = None,
            headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return call(self.client, "GET", url, params=params,
                    headers={**self.headers(user), **(headers or {})}, **kw)

    def post(self, url: str, body: Any, *, user: str | None = None,
             headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
        return call(self.client, "POST", url, content=content,
                    headers={**self.headers(user), **CT21, **(headers or {})}, **kw)

    def delete(self, url: str, params: Any = None, *, user: str | None = None) -> httpx.Response:
        return call(self.client, "DELETE", url, params=params, headers=self.headers(user))

    def post_objects(self, objects: list[dict[str, Any]], col: str = "RW") -> dict[str, Any]:
        resp = self.post(self.col(col, "objects/"), {"objects": objects})
        assert resp.status_code == 202, resp.text
        return resp.json()

    def load(self) -> None:
        """C13 then C16: RW holds I1@t1, ID1, S1, M, then I1@t2 and I1@t3."""
        self.post_objects([self.i1_at[T1], self.id1_obj, self.s1_obj, self.m])
        self.post_objects([self.i1_at[T2], self.i1_at[T3]])

    def manifest(self, col: str = "RW", params: Any = None, user: str | None = None,
                 ) -> list[dict[str, Any]]:
        """Every manifest record (all versions unless `params` say otherwise), all pages."""
        params = dict({"match[version]": "all"} if params is None else params)
        records: list[dict[str, Any]] = []
        while True:
            resp = self.get(self.col(col, "manifest/"), params, user=user)
            assert resp.status_code == 200, resp.text
            doc = resp.json()
            records += doc.get("objects", [])
            if not doc.get("more"):
                return records
            params["next"] = doc["next"]

    def snapshot(self, col: str = "RW") -> list[tuple[str, str, str]]:
        """What a collection holds, as the admin sees it: (id, version, date_added)."""
        return [(r["id"], r["version"], r["date_added"])
                for r in self.manifest(col, user="admin")]
