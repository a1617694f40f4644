"""End to end: a real `liaison serve` process driven by the real third-party clients.

`taxii2-client` (Server → ApiRoot → Collection, add with status polling, reads,
`as_pages`, delete) and python-stix2's `TAXIICollectionStore` (add, get, query,
all_versions) talk to a node started with `liaison init` + `liaison serve` on
127.0.0.1 (reference §3.2, §3.3, §4 "harness notes").  Every object the node serves
here is checked with `stix2-validator` and compared with what was posted.

The node runs with LIAISON_MAX_PAGE_SIZE=500, so stix2's `limit=5000` and the default
page of 1000 are capped and pagination has to carry the clients to the end.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import stix2
from stix2 import Filter, TAXIICollectionSink, TAXIICollectionSource, TAXIICollectionStore
from stix2.datastore import DataSourceError
from stix2validator import ValidationOptions, validate_instance
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from tests.e2e.server import RunningNode, liaison_node

MAX_PAGE = 500
TAXII_21 = "application/taxii+json;version=2.1"
BASE_TIME = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
MAX_PAGES = 1000  # a pager that has not ended by then never will


# -- the corpus: ~2,500 objects made with stix2, some in several versions ----------------

class Corpus:
    """Deterministic STIX 2.1 objects (seeded ids, fixed timestamps)."""

    def __init__(self, seed: int = 2024) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.versions: list[dict[str, Any]] = []  # every version, in posting order
        identities = [self._add(stix2.Identity(
            id=self._id("identity"), created=self._t(i), modified=self._t(i),
            name=f"Organisation {i}", identity_class="organization",
            description=f"Partner organisation number {i}")) for i in range(40)]
        malware = [self._add(stix2.Malware(
            id=self._id("malware"), created=self._t(i), modified=self._t(i),
            name=f"Family {i}", is_family=True, malware_types=["trojan"],
            description=f"Malware family {i}", created_by_ref=identities[i % 40].id))
            for i in range(200)]
        indicators = [self._add(stix2.Indicator(
            id=self._id("indicator"), created=self._t(i), modified=self._t(i),
            name=f"Indicator {i}", description=f"Observed infrastructure {i}",
            indicator_types=["malicious-activity"], pattern=self._pattern(i),
            pattern_type="stix", valid_from=self._t(i), created_by_ref=identities[i % 40].id))
            for i in range(1000)]
        for i, ind in enumerate(indicators):
            self._add(stix2.Relationship(
                id=self._id("relationship"), created=self._t(i), modified=self._t(i),
                relationship_type="indicates", source_ref=ind.id,
                target_ref=malware[i % 200].id, created_by_ref=identities[i % 40].id))
        # New versions: 250 indicators get a second version, 10 malware two more.
        for ind in indicators[:250]:
            self._add(ind.new_version(modified=ind.modified + timedelta(days=1),
                                      confidence=80))
        for mal in malware[:10]:
            v2 = self._add(mal.new_version(modified=mal.modified + timedelta(hours=1),
                                           description="second look"))
            self._add(v2.new_version(modified=v2.modified + timedelta(hours=1),
                                     description="third look", is_family=False))
        rng.shuffle(self.versions)  # a later version may well be posted before an earlier one
        self.indicator_ids = [o.id for o in indicators]
        self.twice_versioned = [o.id for o in indicators[:250]]
        self.thrice_versioned = [o.id for o in malware[:10]]

    def _id(self, kind: str) -> str:
        return f"{kind}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    @staticmethod
    def _t(i: int) -> datetime:
        return BASE_TIME + timedelta(seconds=i, milliseconds=i % 1000)

    def _pattern(self, i: int) -> str:
        kind = i % 3
        if kind == 0:
            return f"[ipv4-addr:value = '10.{i // 250}.{i % 250}.{(i * 7) % 250}']"
        if kind == 1:
            return f"[domain-name:value = 'host{i}.bad.example']"
        return f"[file:hashes.'SHA-256' = '{i:064x}']"

    def _add(self, obj: Any) -> Any:
        self.versions.append(json.loads(obj.serialize()))
        return obj

    def envelope(self) -> dict[str, Any]:
        return {"objects": self.versions}

    def latest(self) -> dict[str, dict[str, Any]]:
        """id → the version with the greatest `modified` (TAXII `match[version]=last`)."""
        out: dict[str, dict[str, Any]] = {}
        for obj in self.versions:
            if obj["id"] not in out or _ts(obj["modified"]) > _ts(out[obj["id"]]["modified"]):
                out[obj["id"]] = obj
        return out

    def all_versions(self, oid: str) -> list[dict[str, Any]]:
        mine = [o for o in self.versions if o["id"] == oid]
        return sorted(mine, key=lambda o: _ts(o["modified"]))


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["id"], obj.get("modified", obj.get("created", ""))


# -- what the node serves must be valid STIX 2.1 and exactly what was posted ----------------

class Served:
    """Validates every distinct object version served (once) and checks it is unchanged."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}
        self.options = ValidationOptions(version="2.1")

    def check(self, objects: Iterable[dict[str, Any]],
              posted: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        for obj in objects:
            key = _key(obj)
            if key in self.seen:
                assert obj == self.seen[key], f"{key} served differently on two reads"
                continue
            result = validate_instance(obj, self.options)
            assert result.is_valid and not result.errors, (
                f"{key} served by the node fails stix2-validator: "
                f"{[str(e) for e in result.errors]}")
            if posted is not None:
                assert obj == posted[key], f"{key} served differs from what was posted"
            self.seen[key] = obj


def _stix_dicts(objs: Iterable[Any]) -> list[dict[str, Any]]:
    return [json.loads(o.serialize()) for o in objs]


def _pages(func: Any, per_request: int, **filters: Any) -> list[dict[str, Any]]:
    """`as_pages`, but failing instead of looping forever."""
    pages = list(itertools.islice(as_pages(func, per_request=per_request, **filters),
                                  MAX_PAGES))
    assert len(pages) < MAX_PAGES, "as_pages did not terminate"
    assert not pages[-1].get("more", False), "the last page still says more"
    return pages


# -- fixtures: one server for the module; each test gets its own collection ------------------

@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    home = tmp_path_factory.mktemp("e2e") / "node"
    with liaison_node(home, org="E2E Ministry",
                      env={"LIAISON_MAX_PAGE_SIZE": str(MAX_PAGE)}) as running:
        running.extra["analyst_token"] = running.add_user("analyst", "analyst")
        running.extra["reader_token"] = running.add_user("reader", "reader")
        yield running


@pytest.fixture(scope="module")
def served() -> Served:
    return Served()


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def _collection(node: RunningNode, cid: str, user: str = "analyst") -> Collection:
    """A taxii2-client Collection reached by discovery (Server → ApiRoot → Collection)."""
    token = node.admin_token if user == "admin" else node.extra[f"{user}_token"]
    server = Server(node.discovery_url, user=user, password=token)
    found = [c for c in server.api_roots[0].collections if c.id == cid]
    assert len(found) == 1, f"{user} does not see collection {cid} exactly once"
    return found[0]


def _new_collection(node: RunningNode, title: str, *, reader: bool = False) -> str:
    cid = node.add_collection(title)
    node.grant(cid, "analyst", read=True, write=True)
    if reader:
        node.grant(cid, "reader", read=True)
    return cid


@pytest.fixture(scope="module")
def bulk(node: RunningNode, corpus: Corpus) -> dict[str, Any]:
    """The corpus, posted once through taxii2-client by the analyst."""
    cid = _new_collection(node, "Bulk", reader=True)
    collection = _collection(node, cid)
    status = collection.add_objects(corpus.envelope(), wait_for_completion=True,
                                    poll_interval=0.2, timeout=30)
    return {"cid": cid, "collection": collection, "status": status}


# -- discovery ------------------------------------------------------------------------------

def test_discovery_api_root_and_collections_with_relative_urls(node: RunningNode) -> None:
    cid = _new_collection(node, "Discovery", reader=True)
    hidden = node.add_collection("Not granted")
    raw = requests.get(node.discovery_url, auth=node.auth(), headers={"Accept": TAXII_21},
                       timeout=10).json()
    assert raw["api_roots"] == ["/api/"] and raw["default"] == "/api/"  # relative (§4.1.1)

    server = Server(node.discovery_url, user="admin", password=node.admin_token)
    assert server.title == "Liaison node of E2E Ministry"
    assert [r.url for r in server.api_roots] == [node.api_root_url()]
    assert server.default is not None and server.default.url == node.api_root_url()
    root: ApiRoot = server.api_roots[0]
    assert TAXII_21 in root.versions
    assert isinstance(root.max_content_length, int) and root.max_content_length > 0
    admin_ids = [c.id for c in root.collections]
    assert cid in admin_ids and hidden in admin_ids

    analyst_root = Server(node.discovery_url, user="analyst",
                          password=node.extra["analyst_token"]).api_roots[0]
    mine = {c.id: c for c in analyst_root.collections}
    assert hidden not in mine  # not granted, not listed
    col = mine[cid]
    assert col.url == node.collection_url(cid)
    assert col.title == "Discovery" and col.can_read and col.can_write
    assert col.media_types == ["application/stix+json;version=2.1"]

    reader = _collection(node, cid, "reader")
    assert reader.can_read and not reader.can_write
    with pytest.raises(AccessError):
        reader.add_objects({"objects": []})  # taxii2-client refuses before the request

    stranger = Server(node.discovery_url, user="analyst", password="lsn_wrong")
    with pytest.raises(requests.HTTPError) as err:
        stranger.title  # noqa: B018  (loads the discovery resource)
    assert err.value.response.status_code == 401
    assert "WWW-Authenticate" in err.value.response.headers


# -- add, status, reads ------------------------------------------------------------------------

def test_add_objects_status_completes_with_every_object_a_success(
        node: RunningNode, corpus: Corpus, bulk: dict[str, Any]) -> None:
    status = bulk["status"]
    total = len(corpus.versions)
    assert 2400 <= total <= 2600
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count,
            status.pending_count) == (total, total, 0, 0)
    assert {(s["id"], s["version"]) for s in status.successes} == {
        _key(o) for o in corpus.versions}
    assert status.url == f"{node.api_root_url()}status/{status.id}/"
    status.refresh()  # the status resource is still there, unchanged
    assert status.status == "complete" and status.success_count == total

    # Posting the same envelope again is idempotent: successes, nothing stored twice.
    again = bulk["collection"].add_objects(corpus.envelope(), poll_interval=0.2, timeout=30)
    assert (again.success_count, again.failure_count) == (total, 0)
    listing = node.cli_json("collection", "list")
    assert [c["objects"] for c in listing if c["id"] == bulk["cid"]] == [len(corpus.latest())]


def _good_indicator() -> dict[str, Any]:
    return json.loads(stix2.Indicator(pattern="[ipv4-addr:value = '192.0.2.1']",
                                      pattern_type="stix", name="good").serialize())


def test_add_objects_reports_invalid_objects_as_failures(node: RunningNode,
                                                          served: Served) -> None:
    collection = _collection(node, _new_collection(node, "Mixed"))
    good = _good_indicator()
    no_pattern = {k: v for k, v in good.items() if k != "pattern"}
    no_pattern["id"] = f"indicator--{uuid.uuid4()}"
    bad_id = dict(good, id="indicator--not-a-uuid")
    status = collection.add_objects({"objects": [good, no_pattern, bad_id]},
                                    poll_interval=0.2, timeout=30)
    assert (status.total_count, status.success_count, status.failure_count) == (3, 1, 2)
    assert {f["id"] for f in status.failures} == {no_pattern["id"], bad_id["id"]}
    assert all(f.get("message") for f in status.failures)
    served_objs = collection.get_objects()["objects"]
    assert served_objs == [good]
    served.check(served_objs)


def test_an_indicator_with_a_broken_pattern_is_refused(node: RunningNode) -> None:
    collection = _collection(node, _new_collection(node, "Patterns"))
    broken = dict(_good_indicator(), pattern="[ipv4-addr:value = ")
    status = collection.add_objects({"objects": [broken]}, poll_interval=0.2, timeout=30)
    assert (status.success_count, status.failure_count) == (0, 1)
    assert collection.get_objects() == {}


def test_get_objects_is_capped_and_as_pages_yields_every_object_once(
        corpus: Corpus, bulk: dict[str, Any], served: Served) -> None:
    collection = bulk["collection"]
    latest = corpus.latest()
    posted = {_key(o): o for o in corpus.versions}

    first = collection.get_objects()  # no limit: default page, capped by the node
    assert len(first["objects"]) == MAX_PAGE and first["more"] is True and first["next"]

    pages = _pages(collection.get_objects, 100)
    assert all(1 <= len(p.get("objects", [])) <= 100 for p in pages)
    assert all(p["more"] is True and p.get("next") for p in pages[:-1])
    objs = [o for p in pages for o in p["objects"]]
    assert len(objs) == len({o["id"] for o in objs}) == len(latest)  # each object once
    assert {_key(o) for o in objs} == {_key(o) for o in latest.values()}  # latest versions
    served.check(objs, posted)

    every = [o for p in _pages(collection.get_objects, 100, version="all") for o in p["objects"]]
    assert len(every) == len(posted) and {_key(o) for o in every} == set(posted)
    served.check(every, posted)

    indicators = [o for p in _pages(collection.get_objects, 100, type="indicator")
                  for o in p["objects"]]
    assert {o["id"] for o in indicators} == set(corpus.indicator_ids)
    assert all(o == latest[o["id"]] for o in indicators)


def test_manifest_pages_in_date_added_order_one_record_per_version(
        corpus: Corpus, bulk: dict[str, Any]) -> None:
    collection = bulk["collection"]
    records = [r for p in _pages(collection.get_manifest, 250) for r in p["objects"]]
    latest = corpus.latest()
    assert {(r["id"], r["version"]) for r in records} == {_key(o) for o in latest.values()}
    added = [r["date_added"] for r in records]
    assert added == sorted(added)
    assert all(r["media_type"] == "application/stix+json;version=2.1" for r in records)

    oid = corpus.thrice_versioned[0]
    everything = collection.get_manifest(id=oid, version="all")["objects"]
    assert sorted(r["version"] for r in everything) == [
        o["modified"] for o in corpus.all_versions(oid)]
    only_malware = collection.get_manifest(type="malware", limit=MAX_PAGE)["objects"]
    assert {r["id"].split("--")[0] for r in only_malware} == {"malware"}
    assert len(only_malware) == 200


def test_get_object_and_object_versions(corpus: Corpus, bulk: dict[str, Any],
                                        served: Served) -> None:
    collection = bulk["collection"]
    posted = {_key(o): o for o in corpus.versions}
    for oid in (corpus.twice_versioned[7], corpus.thrice_versioned[3]):
        history = corpus.all_versions(oid)
        env = collection.get_object(oid)
        assert env["objects"] == [history[-1]]  # the latest by default (§3.4.1)
        first = collection.get_object(oid, version="first")["objects"]
        assert first == [history[0]]
        every = collection.get_object(oid, version="all")["objects"]
        assert sorted(o["modified"] for o in every) == [o["modified"] for o in history]
        versions = collection.object_versions(oid)["versions"]
        assert sorted(versions) == [o["modified"] for o in history]
        served.check(env["objects"] + first + every, posted)

    unknown = f"indicator--{uuid.uuid4()}"
    for call in (collection.get_object, collection.object_versions):
        with pytest.raises(requests.HTTPError) as err:
            call(unknown)
        assert err.value.response.status_code == 404


def test_delete_object_by_version_then_entirely(node: RunningNode, corpus: Corpus,
                                                served: Served) -> None:
    collection = _collection(node, _new_collection(node, "Deletions"))
    oid = corpus.thrice_versioned[5]
    history = corpus.all_versions(oid)
    keep = corpus.versions[:30]
    status = collection.add_objects({"objects": history + keep}, poll_interval=0.2, timeout=30)
    assert status.failure_count == 0

    collection.delete_object(oid, version=history[-1]["modified"])
    assert collection.get_object(oid)["objects"] == [history[1]]  # the newest remaining
    assert sorted(collection.object_versions(oid)["versions"]) == [
        h["modified"] for h in history[:2]]

    collection.delete_object(oid)  # no match[version]: every version goes (node decision)
    for call in (collection.get_object, collection.object_versions, collection.delete_object):
        with pytest.raises(requests.HTTPError) as err:
            call(oid)
        assert err.value.response.status_code == 404
    assert collection.get_manifest(id=oid) == {}
    assert collection.get_objects(id=oid, version="all") == {}
    rest = [o for p in _pages(collection.get_objects, 100, version="all") for o in p["objects"]]
    assert {_key(o) for o in rest} == {_key(o) for o in keep}  # nothing else went
    served.check(rest)


def test_next_cursors_work_on_another_process_and_after_a_restart(
        node: RunningNode, corpus: Corpus, bulk: dict[str, Any]) -> None:
    """DESIGN principle 5: no server-side session state; any process honours `next`."""
    collection = bulk["collection"]
    first = collection.get_objects(limit=100)
    assert first["more"] is True and first["next"]
    second = collection.get_objects(limit=100, next=first["next"])
    assert {o["id"] for o in second["objects"]}.isdisjoint(o["id"] for o in first["objects"])

    with node.another_process() as other:
        assert other.port != node.port
        there = Collection(other.collection_url(bulk["cid"]), user="analyst",
                           password=node.extra["analyst_token"])
        assert there.get_objects(limit=100, next=first["next"])["objects"] == second["objects"]
        seen = [o["id"] for o in first["objects"]]
        page = first
        for _ in range(MAX_PAGES):  # finish the listing on the other process
            if not page.get("more"):
                break
            page = there.get_objects(limit=100, next=page["next"])
            seen += [o["id"] for o in page.get("objects", [])]
        assert len(seen) == len(set(seen)) == len(corpus.latest())

        reader = Collection(other.collection_url(bulk["cid"]), user="reader",
                            password=node.extra["reader_token"])
        with pytest.raises(requests.HTTPError) as err:  # the cursor is the analyst's
            reader.get_objects(limit=100, next=first["next"])
        assert err.value.response.status_code == 400

    node.restart()
    again = Collection(node.collection_url(bulk["cid"]), user="analyst",
                       password=node.extra["analyst_token"])
    assert again.get_objects(limit=100, next=first["next"])["objects"] == second["objects"]


# -- python-stix2 TAXIICollectionStore --------------------------------------------------------

def test_stix2_store_add_get_query_all_versions(node: RunningNode, served: Served) -> None:
    collection = _collection(node, _new_collection(node, "Store", reader=True))
    store = TAXIICollectionStore(collection)
    actor = stix2.ThreatActor(name="Grey Heron", threat_actor_types=["nation-state"])
    ind = stix2.Indicator(name="c2", pattern="[domain-name:value = 'c2.heron.example']",
                          pattern_type="stix", created_by_ref=None)
    rel = stix2.Relationship(ind, "indicates", actor)
    store.add(ind)  # one object: posted as a STIX bundle
    store.add([actor, rel])  # a list: one bundle each
    ind2 = ind.new_version(modified=ind.modified + timedelta(seconds=5), confidence=90)
    ind3 = ind2.new_version(modified=ind2.modified + timedelta(seconds=5), revoked=True)
    store.add(stix2.Bundle(ind3, ind2, allow_custom=False))  # a bundle, newest first

    got = store.get(ind.id)
    assert got is not None and got.modified == ind3.modified and got.revoked is True
    assert store.get(actor.id) == actor
    assert store.get(f"indicator--{uuid.uuid4()}") is None  # a 404 becomes None

    history = store.all_versions(ind.id)
    assert sorted(o.modified for o in history) == [ind.modified, ind2.modified, ind3.modified]

    found = store.query([Filter("type", "=", "indicator")])
    assert [(o.id, o.modified) for o in found] == [(ind.id, ind3.modified)]
    both = store.query([Filter("type", "=", "relationship"), Filter("source_ref", "=", ind.id)])
    assert [o.id for o in both] == [rel.id]
    assert store.query([Filter("type", "=", "campaign")]) == []  # 200 {}, not a 404
    served.check(_stix_dicts([got, *history, *found, *both]))

    # The reader may read through the source but not build a sink.
    reader_col = _collection(node, collection.id, "reader")
    assert TAXIICollectionSource(reader_col).get(actor.id) == actor
    with pytest.raises(DataSourceError):
        TAXIICollectionSink(reader_col)


def test_stix2_query_pages_past_the_node_cap(corpus: Corpus, bulk: dict[str, Any],
                                             served: Served) -> None:
    capped = bulk["collection"].get_objects(limit=5000, type="indicator")  # what stix2 asks
    assert len(capped["objects"]) == MAX_PAGE and capped["more"] is True and capped["next"]
    source = TAXIICollectionSource(bulk["collection"])  # pages with limit=5000, capped to 500
    found = source.query([Filter("type", "=", "indicator")])
    latest = corpus.latest()
    assert len(found) == len(corpus.indicator_ids)
    assert {(o.id, o.modified) for o in found} == {
        (i, stix2.utils.parse_into_datetime(latest[i]["modified"])) for i in corpus.indicator_ids}
    served.check(_stix_dicts(found))

    oid = corpus.twice_versioned[42]
    history = source.all_versions(oid)
    assert sorted(json.loads(o.serialize())["modified"] for o in history) == [
        o["modified"] for o in corpus.all_versions(oid)]

