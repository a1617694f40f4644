"""The index on each engine: what ingest writes, what lookup finds for the tricky forms
(IPv6, IDN and uppercase domains, URL variants, every hash algorithm, CIDR containment at
the boundaries, pattern forms), versions, deletion and reindexing — and full-text search
giving the same results on SQLite and PostgreSQL for the same data."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from liaison.node import Node, init_node
from liaison.storage.base import Principal, VersionFilter
from liaison.storage.search_sql import SearchSQL
from tests.conftest import NodeFixture, database_for, needs_postgres

T1, T2 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512 = ("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
          "ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
SHA3 = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
MD5, SHA1 = "d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SSDEEP = "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"


def oid(kind: str, n: int) -> str:
    return f"{kind}--00000000-0000-4000-8000-{n:012d}"


def indicator(n: int, pattern: str, name: str = "", modified: str = T1, **extra: Any,
              ) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": oid("indicator", n),
            "created": T1, "modified": modified, "name": name or f"indicator {n}",
            "pattern": pattern, "pattern_type": "stix", "valid_from": T1, **extra}


def sco(kind: str, n: int, **props: Any) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": oid(kind, n), **props}


OBJECTS = [
    sco("ipv6-addr", 1, value="2001:0db8:0000:0000:0000:0000:0000:0001"),
    sco("ipv6-addr", 2, value="2001:DB8::/32"),
    sco("domain-name", 3, value="Bücher.example."),
    sco("domain-name", 4, value="MiXeD.Example.COM"),
    sco("file", 5, name="Invoice.pdf.exe", hashes={
        "MD5": MD5.upper(), "SHA-1": SHA1.upper(), "SHA-256": SHA256.upper(),
        "SHA-512": SHA512.upper(), "SHA3-256": SHA3.upper(), "SSDEEP": SSDEEP}),
    sco("ipv4-addr", 6, value="10.0.0.0/8"),
    sco("email-addr", 7, value="Alice@Example.ORG"),
    sco("mac-addr", 8, value="00-1A-2B-3C-4D-5E"),
    sco("autonomous-system", 9, number=64500),
    sco("url", 10, value="https://Portal.example:443/login?next=%2fhome"),
    indicator(11, "[ipv4-addr:value ISSUBSET '10.1.2.0/24']", "the /24"),
    indicator(12, "[url:value = 'HTTP://Evil.example:80'] OR [domain-name:value IN "
              "('one.example', 'TWO.example')]", "urls and domains"),
    indicator(13, "[ipv4-addr:value = '192.0.2.1'] AND [file:hashes.'SHA-256' = '"
              + SHA256 + "'] WITHIN 300 SECONDS", "within"),
    indicator(14, "[domain-name:value LIKE '%.like.example']", "not indexable"),
    indicator(15, "([email-message:from_ref.value = 'Boss@Corp.example'] FOLLOWEDBY "
              "[network-traffic:dst_ref.value = '2001:db8::99']) REPEATS 2 TIMES", "refs"),
    indicator(16, "[domain-name:value = 'old.example']", "versioned"),
    indicator(16, "[domain-name:value = 'new.example']", "versioned", modified=T2),
    indicator(17, "[ipv6-addr:value ISSUBSET '2001:db8:abcd::/48']", "the /48"),
]

# value as typed → ids (by number) of the objects a lookup must find (nothing else)
LOOKUPS: list[tuple[str, set[int]]] = [
    ("2001:DB8::1", {1, 2}),  # the address, and the /32 that contains it
    ("[2001:db8::1]", {1, 2}),
    ("2001:db8:0:0:0:0:0:1/128", {1, 2}),
    ("2001:db8::/32", {1, 2, 15, 17}),  # the block: itself, and what lies inside it
    ("2001:db8:abcd:ffff:ffff:ffff:ffff:ffff", {2, 17}),  # last address of the /48
    ("2001:db8:abce::", {2}),  # first address after the /48
    ("2001:db9::", set()),
    ("xn--bcher-kva.example", {3}),
    ("BÜCHER.EXAMPLE", {3}),
    ("mixed.example.com.", {4}),
    (MD5.upper(), {5}), (SHA1, {5}), (SHA256, {5, 13}), (SHA512.upper(), {5}),
    (SHA3, {5}), (SSDEEP, {5}),
    ("Invoice.pdf.exe", {5}),
    ("10.0.0.0", {6}),  # first address of the /8
    ("10.1.2.0", {6, 11}),  # first of the /24, inside the /8
    ("10.1.2.255", {6, 11}),  # last of the /24
    ("10.1.3.0", {6}),
    ("10.1.1.255", {6}),
    ("10.255.255.255", {6}),
    ("9.255.255.255", set()), ("11.0.0.0", set()),
    ("10.1.0.0/16", {6, 11}),  # inside the /8; the /24 inside it
    ("10[.]1[.]2[.]7", {11}.union({6})),
    ("alice@example.org", {7}), ("00:1a:2b:3c:4d:5e", {8}), ("AS64500", {9}),
    ("https://portal.example/login?next=%2Fhome", {10}),
    ("hxxp://evil[.]example", {12}), ("http://evil.example/", {12}),
    ("evil.example", {12}), ("portal.example", {10}),  # the host of a URL
    ("two.example", {12}), ("ONE.example", {12}),
    ("192.0.2.1", {13}), ("boss@corp.example", {15}), ("2001:db8::99", {2, 15}),
    ("x.like.example", set()),
    ("new.example", {16}), ("old.example", set()),  # only the latest version answers
    ("never.seen.example", set()), ("", set()),
]


def _admin(fx: NodeFixture) -> Principal:
    found = fx.node.store.principal_by_name("admin")
    assert found is not None
    return found


@pytest.fixture
def loaded(node_fx: NodeFixture) -> NodeFixture:
    cid = node_fx.add_collection("Main", "main")
    ex = node_fx.node.exchange
    body = ex.add_envelope(_admin(node_fx), cid, orjson.dumps({"objects": OBJECTS}))
    assert orjson.loads(body)["failure_count"] == 0
    return node_fx


def _found(fx: NodeFixture, values: list[str], **kw: Any) -> list[set[int]]:
    answers = fx.node.exchange.finder.lookup(_admin(fx), values, **kw)
    return [{int(h["id"].rsplit("-", 1)[1]) for h in a["hits"]} for a in answers]


def test_lookup_finds_equal_things(loaded: NodeFixture) -> None:
    got = _found(loaded, [v for v, _ in LOOKUPS])
    assert got == [want for _, want in LOOKUPS], [
        (v, g, w) for (v, w), g in zip(LOOKUPS, got, strict=True) if g != w]


def test_lookup_answers_say_how_and_when(loaded: NodeFixture) -> None:
    [a, b, c] = loaded.node.exchange.finder.lookup(_admin(loaded), [
        "hxxp://Evil[.]example", "10.1.2.3", "unknown.example"])
    assert (a["normalised"], a["kind"], a["seen"]) == ("http://evil.example/", "url", True)
    [hit] = a["hits"]
    assert hit["matched"] == {"kind": "url", "value": "http://evil.example/", "via": "pattern"}
    assert (hit["name"], hit["type"], hit["collection_alias"], hit["origin"]) == (
        "urls and domains", "indicator", "main", "local")
    assert hit["tlp"] == "amber" and hit["tlp_from"] == "collection default"
    assert a["first_seen"] == hit["first_seen"] <= hit["last_seen"] == a["last_seen"]
    assert {h["matched"]["value"] for h in b["hits"]} == {"10.0.0.0/8", "10.1.2.0/24"}
    assert c == {"value": "unknown.example", "normalised": "unknown.example", "kind": "domain",
                 "seen": False, "hits": [], "more": False}


def test_versions_and_limits(loaded: NodeFixture) -> None:
    finder = loaded.node.exchange.finder
    [old] = finder.lookup(_admin(loaded), ["old.example"], all_versions=True)
    assert [h["version"] for h in old["hits"]] == [T1]
    [new] = finder.lookup(_admin(loaded), ["new.example"])
    assert new["hits"][0]["first_seen"] < new["hits"][0]["last_seen"]  # two versions
    [many] = finder.lookup(_admin(loaded), ["10.1.2.3"], limit=1)
    assert len(many["hits"]) == 1 and many["more"] is True
    [by_kind] = finder.lookup(_admin(loaded), ["invoice.pdf.exe"], kind="file-name")
    assert not by_kind["seen"]  # file names are kept as written
    [typed] = finder.lookup(_admin(loaded), [SHA256], kind="hash:sha256")
    assert {h["id"] for h in typed["hits"]} == {oid("file", 5), oid("indicator", 13)}


def test_deleting_a_version_removes_its_index_rows(loaded: NodeFixture) -> None:
    ex, who = loaded.node.exchange, _admin(loaded)
    coll = loaded.node.store.collection("main")
    assert coll is not None
    ex.delete_object(who, "main", oid("indicator", 16), VersionFilter(last=False, exact=(
        1706745600000000,)), None)
    [old, new] = ex.finder.lookup(who, ["old.example", "new.example"])
    assert old["seen"] and not new["seen"]  # the older version is the latest now
    assert ex.finder.search(who, "versioned")["total"] == 1
    ex.delete_object(who, "main", oid("indicator", 12), None, None)
    assert not any(a["seen"] for a in ex.finder.lookup(who, ["evil.example", "one.example"]))
    assert ex.finder.search(who, "urls domains")["total"] == 0
    keys = [d for d, in _rows(loaded, "SELECT date_added FROM objects")]
    assert {d for d, _ in loaded.node.store.observables_at(keys)} <= set(keys)
    orphans = _rows(loaded, "SELECT COUNT(*) FROM observables WHERE date_added NOT IN "
                    "(SELECT date_added FROM objects)")
    assert orphans == [(0,)]
    text_key = "rowid" if loaded.node.store.engine == "sqlite" else "date_added"
    assert _rows(loaded, f"SELECT COUNT(*) FROM search_text WHERE {text_key} NOT IN "
                 "(SELECT date_added FROM objects)") == [(0,)]


def _sql(fx: NodeFixture) -> SearchSQL:
    """The node's store as the SQL it runs: `Node.store` is typed as the `Store`
    contract, and both engines' stores are `SearchSQL` (the index's queries)."""
    store = fx.node.store
    assert isinstance(store, SearchSQL)
    return store


def _recorded(fx: NodeFixture, values: list[str], monkeypatch: pytest.MonkeyPatch,
              ) -> tuple[list[set[int]], list[tuple[str, list[object]]]]:
    """What a lookup of `values` finds, and the (query, parameters) the store ran."""
    store = _sql(fx)
    seen: list[tuple[str, list[object]]] = []
    real = store._all

    def recording(query: str, params: Any = ()) -> list[Any]:
        seen.append((query, list(params)))
        return real(query, params)

    with monkeypatch.context() as patch:
        patch.setattr(store, "_all", recording)
        return _found(fx, values), seen


def _rows(fx: NodeFixture, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in _sql(fx)._all(sql)]


def test_reindex_rebuilds_the_same_index(loaded: NodeFixture) -> None:
    store = _sql(loaded)
    before = sorted(_rows(loaded, "SELECT date_added, kind, value, lo, hi, via FROM observables"))
    text_key = "rowid" if store.engine == "sqlite" else "date_added"
    with store._write() as tx:
        tx.execute("DELETE FROM observables")
        tx.execute("DELETE FROM search_text")
    assert not any(_found(loaded, ["evil.example", "10.1.2.3"]))
    assert loaded.node.exchange.finder.reindex(batch=3) == len(_rows(
        loaded, "SELECT date_added FROM objects"))
    assert sorted(_rows(loaded, "SELECT date_added, kind, value, lo, hi, via FROM "
                        "observables")) == before
    assert _rows(loaded, f"SELECT COUNT(*) FROM search_text WHERE {text_key} > 0")[0][0] > 0
    test_lookup_finds_equal_things(loaded)


def test_a_partner_write_indexes_in_the_same_transaction(
        node_fx: NodeFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused envelope writes no index rows (the index is part of the unit)."""
    cid = node_fx.add_collection("Main", "main")
    store = _sql(node_fx)
    original = store._add_index

    def failing(tx: Any, rows: Any) -> None:
        original(tx, rows)
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(store, "_add_index", failing)
        with pytest.raises(RuntimeError):
            node_fx.node.exchange.add_envelope(_admin(node_fx), cid,
                                               orjson.dumps({"objects": OBJECTS[:3]}))
    assert _rows(node_fx, "SELECT COUNT(*) FROM observables") == [(0,)]
    assert _rows(node_fx, "SELECT COUNT(*) FROM objects") == [(0,)]


# -- the same search results on both engines ---------------------------------------------
WORDS = ("amber", "beacon", "cobalt", "dragon", "ember", "falcon", "granite", "harbor",
         "iris", "jasper", "kestrel", "lumen", "meadow", "nimbus", "onyx", "prism")
QUERIES = ["cobalt", "cobalt beacon", '"cobalt beacon"', "cobalt OR dragon", "cob*",
           '"falcon gr"*', "cobalt -beacon", "-beacon type:malware", "type:indicator",
           "type:malware,tool tlp:green", "tlp:red", "falcon collection:second",
           "from:us harbor", "s0001", "evil7.example", "10.0.0.7", "nimbus ember iris",
           "after:2024-01-01 prism", "jasper OR kestrel OR lumen -meadow", "onyx*",
           "description words only", "xyzzy", "cafe münchen", '"CAFÉ munchen"', "例え",
           "αθηνα naive", "naï*"]


def _corpus(seed: int = 7) -> list[dict[str, Any]]:
    r = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(240):
        words = [r.choice(WORDS) for _ in range(r.randint(1, 3))]
        kind = r.choice(["indicator", "malware", "tool", "threat-actor"])
        obj: dict[str, Any] = {"type": kind, "spec_version": "2.1", "id": oid(kind, 1000 + n),
                               "created": T1, "modified": T1, "name": " ".join(words),
                               "description": " ".join(r.choice(WORDS) for _ in range(
                                   r.randint(0, 12))) or "description words only"}
        if kind == "indicator":
            obj.update(pattern=f"[domain-name:value = 'evil{n % 13}.example'] OR "
                       f"[ipv4-addr:value = '10.0.0.{n % 17}']", pattern_type="stix",
                       valid_from=T1)
        elif kind == "malware":
            obj.update(is_family=True, aliases=[r.choice(WORDS).title()])
        if n % 5 == 0:
            obj["external_references"] = [{"source_name": "mitre", "external_id": f"S{n:04d}"}]
        if n % 11 == 0:  # text that is not ASCII takes the other path to the index
            obj["name"] += " Café-München"
        if n % 13 == 0:
            obj["description"] += " 例え ΑΘΗΝΑ naïve"
        if n >= 237:  # one name and two descriptions hold "zephyr"
            obj["name" if n == 237 else "description"] += " zephyr"
        level = r.choice(["bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
                          "e828b379-4e03-4974-9ac4-e53a884c97c1", None])
        if level:
            obj["object_marking_refs"] = [f"marking-definition--{level}"]
        out.append(obj)
    return out


def _search_all(node: Node, text: str, newest: bool) -> list[str]:
    who = node.store.principal_by_name("admin")
    assert who is not None
    ids: list[str] = []
    cursor = None
    while True:
        page = node.exchange.finder.search(who, text, limit=7, next=cursor, newest=newest)
        ids += [f"{r['collection_alias']}/{r['id']}" for r in page["results"]]
        assert page["total"] >= len(ids)
        if not page["more"]:
            assert page["total"] == len(ids)
            return ids
        cursor = page["next"]


@needs_postgres
def test_both_engines_give_the_same_results(tmp_path: Path) -> None:
    corpus = _corpus()
    nodes = []
    for engine in ("sqlite", "postgres"):
        home = tmp_path / engine
        init_node(home, "Test Org", database=database_for(engine, tmp_path))
        node = Node.open(home)
        nodes.append(node)
        admin = node.store.principal_by_name("admin")
        assert admin is not None
        for alias, part in (("first", corpus[:160]), ("second", corpus[160:])):
            cid = node.exchange.admin.add_collection(alias.title(), alias).id
            node.exchange.add_envelope(admin, cid, orjson.dumps({"objects": part}))
    try:
        for text in QUERIES:
            lite, pg = (_search_all(n, text, newest=True) for n in nodes)
            assert lite == pg, text
            ranked = [_search_all(n, text, newest=False) for n in nodes]
            assert sorted(ranked[0]) == sorted(ranked[1]) == sorted(lite), text
        assert _search_all(nodes[0], "cobalt", True)  # the corpus is not vacuous
        assert not _search_all(nodes[0], "xyzzy", True)
        for text in ("cafe münchen", "例え", "αθηνα naive"):
            assert _search_all(nodes[0], text, True), text
        for node in nodes:
            who = node.store.principal_by_name("admin")
            assert who is not None
            [one] = node.exchange.finder.search(who, "s0005")["results"]
            assert one["id"] == corpus[5]["id"]  # an external id
            # a name match outranks description matches, on both engines
            top = node.exchange.finder.search(who, "zephyr")["results"]
            assert top[0]["id"] == corpus[-3]["id"] and len(top) == 3
    finally:
        for node in nodes:
            node.close()


def test_a_huge_text_is_indexed_within_the_engines_limits(node_fx: NodeFixture) -> None:
    """Prose far beyond PostgreSQL's tsvector limits (1 MB, 16,383 positions, 2 kB per
    lexeme) is stored and indexed, capped the same way on both engines."""
    cid = node_fx.add_collection("Main", "main")
    huge = indicator(99, "[domain-name:value = 'huge.example']", "huge one",
                     description=" ".join(["é" + "x" * 150] * 12000 + ["z" * 3000, "tail"]))
    body = node_fx.node.exchange.add_envelope(_admin(node_fx), cid,
                                              orjson.dumps({"objects": [huge]}))
    assert orjson.loads(body)["failure_count"] == 0
    finder = node_fx.node.exchange.finder
    assert finder.search(_admin(node_fx), "huge one")["total"] == 1
    assert finder.search(_admin(node_fx), "ex*")["total"] == 1
    assert finder.search(_admin(node_fx), "tail")["total"] == 0  # beyond the cap


# Block sizes of OBJECTS' addresses (bit length of hi - lo): single addresses 0, the
# IPv4 /24 8, the /8 24, the IPv6 /48 80 and /32 96.
SPANS = {0, 8, 24, 80, 96}


def _range_probes(fx: NodeFixture, value: str, monkeypatch: pytest.MonkeyPatch,
                  ) -> tuple[set[int], int]:
    """(what a lookup of `value` finds, how many block starts its range query probed)."""
    [found], seen = _recorded(fx, [value], monkeypatch)
    return found, sum(q.count("v.lo = ") for q, _ in seen)


def test_the_range_index_is_probed_only_at_the_block_sizes_held(
        loaded: NodeFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup of an IPv4 address used to probe the range index at all 33 block sizes
    that could contain it; ingest now records the sizes the store holds (schema 8,
    `observable_spans`) and a lookup probes only those — and a block of a new size,
    ingested later, is found at once."""
    assert {r[0] for r in _rows(loaded, "SELECT span FROM observable_spans")} == SPANS
    assert _range_probes(loaded, "10.1.2.3", monkeypatch) == ({6, 11}, 3)  # /32, /24, /8: not 33
    # /128, /48, /32, and the two sizes of the IPv4 blocks (a span is a bit count, so an
    # IPv6 block of span 8 is probed too): 5 of 129.
    assert _range_probes(loaded, "2001:db8:abcd::1", monkeypatch) == ({2, 17}, 5)
    ex = loaded.node.exchange
    ex.add_envelope(_admin(loaded), "main", orjson.dumps({"objects": [
        indicator(40, "[ipv4-addr:value = '172.16.0.0/12']", "a /12")]}))
    assert {r[0] for r in _rows(loaded, "SELECT span FROM observable_spans")} == SPANS | {20}
    assert _range_probes(loaded, "172.20.1.1", monkeypatch) == ({40}, 4)
    # Reindexing records the sizes anew.
    with _sql(loaded)._write() as tx:
        tx.execute("DELETE FROM observable_spans")
    assert not any(_found(loaded, ["10.1.2.3", "172.20.1.1"]))
    loaded.node.exchange.finder.reindex(batch=4)
    assert {r[0] for r in _rows(loaded, "SELECT span FROM observable_spans")} == SPANS | {20}
    test_lookup_finds_equal_things(loaded)


def test_the_upgrade_to_schema_8_keeps_every_block_size_of_an_existing_store(
        loaded: NodeFixture) -> None:
    """A store with address rows from before schema 8 gets every size (0-128: a lookup
    probes as it did before); one without gets none (ingest adds what comes)."""
    from liaison.storage import migrations

    [schema8] = [m for m in migrations.available(_sql(loaded).engine) if m.version == 8]
    fill = migrations.split_statements(schema8.sql)[1]
    store = _sql(loaded)
    with store._write() as tx:
        tx.execute("DELETE FROM observable_spans")
        tx.execute(fill)
    assert sorted(r[0] for r in _rows(loaded, "SELECT span FROM observable_spans")) == list(
        range(129))
    test_lookup_finds_equal_things(loaded)
    with store._write() as tx:
        tx.execute("DELETE FROM observable_spans")
        tx.execute("DELETE FROM observables")
        tx.execute(fill)
    assert _rows(loaded, "SELECT span FROM observable_spans") == []
