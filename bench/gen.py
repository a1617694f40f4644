"""Deterministic synthetic STIX 2.1 content for the benchmarks.

`generate(n, seed)` returns a `Dataset`: `n` valid STIX 2.1 objects in a realistic mix
(indicators with STIX patterns, cyber observables, malware, threat actors, identities,
locations, reports with `object_refs`, relationships, and later versions of some
SDOs), with TLP 2.0 markings (and a statement marking on some objects), cut into
envelopes of `envelope_size` objects as the bytes every peer receives.

The same `(n, seed, envelope_size)` always gives the same bytes.  Alongside each
object the generator keeps what a store derives from it (id, type, version, TLP rank,
non-TLP markings, relationship endpoints) so that the raw "limit" insert needs no
validation: the limit is what the storage stack costs, nothing more.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from liaison.stix.markings import TLP2_IDS, tlp_rank

SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")  # STIX §2.9
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH_US = int(EPOCH.timestamp()) * 1_000_000
TLP_ID = {level: mid for mid, level in TLP2_IDS.items()}
TLP_WEIGHTS = (("clear", 30), ("green", 40), ("amber", 20), ("amber+strict", 5), ("red", 2),
               (None, 3))
STATEMENT_ID = "marking-definition--" + str(uuid.UUID(int=0x5EED_0000_0000_4000_8000_0000_0000_0001))

# Share of each kind of object (per 1000).  "version" = a new version of an earlier SDO.
MIX = (("indicator", 270), ("sco", 230), ("relationship", 250), ("report", 50),
       ("malware", 40), ("threat-actor", 30), ("identity", 30), ("location", 30),
       ("version", 70))
SCO_TYPES = ("ipv4-addr", "domain-name", "url", "file", "email-addr")
WORDS = ("amber", "basalt", "cobalt", "delta", "ember", "falcon", "granite", "harbor",
         "iris", "jade", "kestrel", "lumen", "marble", "nimbus", "onyx", "pylon", "quartz",
         "raven", "sable", "tundra", "umbra", "vortex", "willow", "xenon", "yarrow", "zephyr")
TLDS = ("com", "net", "org", "info", "io", "ru", "cn", "biz")
COUNTRIES = ("FR", "DE", "NL", "BE", "PL", "ES", "IT", "SE", "FI", "EE", "LV", "LT", "US", "GB")
REGIONS = ("europe", "eastern-europe", "northern-europe", "western-asia", "northern-america")


@dataclass(frozen=True, slots=True)
class Meta:
    """What a store derives from one object version (precomputed for the raw limit)."""

    id: str
    type: str
    version_us: int | None  # None: an SCO without created/modified
    version_text: str | None
    tlp: int | None
    markings: tuple[str, ...]  # non-TLP object markings
    ref_a: str | None
    ref_b: str | None


@dataclass
class Dataset:
    n: int
    seed: int
    envelope_size: int
    envelopes: list[bytes] = field(default_factory=list)
    metas: list[list[Meta]] = field(default_factory=list)
    latest_count: int = 0  # distinct ids (= objects a default `match[version]=last` read returns)
    type_counts: dict[str, int] = field(default_factory=dict)  # latest versions per type
    sample_ids: list[str] = field(default_factory=list)  # ids for single GETs and match[id]
    bytes_total: int = 0


def _ts(us: int) -> str:
    """A STIX timestamp with millisecond precision, `us` microseconds after EPOCH."""
    t = EPOCH + timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _us_of(text: str) -> int:
    """Microseconds since the Unix epoch (as the store keeps versions)."""
    t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(t.timestamp()) * 1_000_000 + t.microsecond


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.pools: dict[str, list[str]] = {}
        self.latest: dict[str, dict] = {}  # id -> latest version (versionable SDOs only)
        self.versionable: list[str] = []
        self.clock = 0  # microseconds after EPOCH
        kinds, weights = zip(*MIX)
        self.kinds, self.cum = kinds, _cumulative(weights)
        tlps, tw = zip(*TLP_WEIGHTS)
        self.tlps, self.tlp_cum = tlps, _cumulative(tw)

    # -- helpers ---------------------------------------------------------------
    def uid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def word(self) -> str:
        return self.r.choice(WORDS)

    def pick(self, kind: str) -> str | None:
        pool = self.pools.get(kind)
        return self.r.choice(pool) if pool else None

    def stamp(self) -> str:
        self.clock += self.r.randint(1_000, 90_000_000)
        return _ts(self.clock)

    def marked(self, obj: dict) -> dict:
        level = self.tlps[_index(self.tlp_cum, self.r.random())]
        refs = [TLP_ID[level]] if level else []
        if self.r.random() < 0.10:
            refs.append(STATEMENT_ID)
        if refs:
            obj["object_marking_refs"] = refs
        return obj

    def sdo(self, t: str, **props: object) -> dict:
        when = self.stamp()
        obj: dict = {"type": t, "spec_version": "2.1", "id": f"{t}--{self.uid()}",
                     "created": when, "modified": when}
        creator = self.pick("identity")
        if creator and t != "identity":
            obj["created_by_ref"] = creator
        obj.update(props)
        if self.r.random() < 0.3:
            obj["confidence"] = self.r.randint(10, 100)
        return self.marked(obj)

    # -- kinds -----------------------------------------------------------------
    def sco(self) -> dict:
        t = self.r.choice(SCO_TYPES)
        n = self.r.getrandbits(48)
        if t == "ipv4-addr":
            value = f"{10 + n % 200}.{(n >> 8) % 256}.{(n >> 16) % 256}.{(n >> 24) % 254 + 1}"
            body: dict = {"value": value}
        elif t == "domain-name":
            value = f"{self.word()}-{n:x}.{self.r.choice(TLDS)}"
            body = {"value": value}
        elif t == "url":
            value = f"https://{self.word()}-{n % 99991}.{self.r.choice(TLDS)}/{self.word()}/{n:x}.php"
            body = {"value": value}
        elif t == "email-addr":
            value = f"{self.word()}.{n % 9973}@{self.word()}-mail.{self.r.choice(TLDS)}"
            body = {"value": value}
        else:
            value = f"{self.r.getrandbits(256):064x}"
            body = {"hashes": {"SHA-256": value}, "name": f"{self.word()}_{n % 1000}.exe",
                    "size": n % 5_000_000 + 1024}
        sid = f"{t}--{uuid.uuid5(SCO_NAMESPACE, t + ':' + value)}"
        obj = {"type": t, "spec_version": "2.1", "id": sid, **body}
        return self.marked(obj)

    def indicator(self) -> dict:
        n = self.r.getrandbits(40)
        choice = n % 4
        if choice == 0:
            pattern = f"[ipv4-addr:value = '{10 + n % 200}.{(n >> 8) % 256}.{(n >> 16) % 256}.{(n >> 24) % 254 + 1}']"
        elif choice == 1:
            pattern = f"[domain-name:value = '{self.word()}-{n:x}.{self.r.choice(TLDS)}']"
        elif choice == 2:
            pattern = f"[url:value = 'https://{self.word()}.{self.r.choice(TLDS)}/{n:x}']"
        else:
            pattern = f"[file:hashes.'SHA-256' = '{self.r.getrandbits(256):064x}']"
        props: dict = {"name": f"{self.word()} {self.word()} indicator",
                       "indicator_types": [self.r.choice(("malicious-activity", "anomalous-activity",
                                                          "compromised", "attribution"))],
                       "pattern": pattern, "pattern_type": "stix"}
        obj = self.sdo("indicator", **props)
        obj["valid_from"] = obj["created"]
        if self.r.random() < 0.4:
            obj["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack",
                                         "phase_name": self.r.choice(("initial-access", "execution",
                                                                      "persistence", "exfiltration"))}]
        if self.r.random() < 0.3:
            obj["description"] = " ".join(self.word() for _ in range(self.r.randint(8, 30)))
        return obj

    def malware(self) -> dict:
        return self.sdo("malware", name=f"{self.word().title()}{self.word().title()}",
                        is_family=True,
                        malware_types=[self.r.choice(("ransomware", "backdoor", "trojan", "worm",
                                                      "remote-access-trojan"))])

    def threat_actor(self) -> dict:
        first = self.stamp()
        return self.sdo("threat-actor", name=f"{self.word().title()} {self.word().title()}",
                        threat_actor_types=[self.r.choice(("nation-state", "crime-syndicate",
                                                           "hacktivist", "spy"))],
                        aliases=[f"{self.word().upper()}-{self.r.randint(1, 99)}"],
                        first_seen=first)

    def identity(self) -> dict:
        return self.sdo("identity", name=f"{self.word().title()} {self.r.choice(('CERT', 'Ministry', 'Agency', 'Corp'))}",
                        identity_class=self.r.choice(("organization", "group", "individual")),
                        sectors=[self.r.choice(("defense", "government-national", "energy",
                                                "telecommunications", "financial-services"))])

    def location(self) -> dict:
        if self.r.random() < 0.5:
            return self.sdo("location", country=self.r.choice(COUNTRIES))
        if self.r.random() < 0.5:
            return self.sdo("location", region=self.r.choice(REGIONS))
        return self.sdo("location", latitude=round(self.r.uniform(-80, 80), 4),
                        longitude=round(self.r.uniform(-170, 170), 4))

    def report(self) -> dict:
        refs: list[str] = []
        for kind in ("indicator", "sco", "malware", "threat-actor", "relationship"):
            pool = self.pools.get(kind) or []
            for _ in range(min(len(pool), self.r.randint(0, 8))):
                refs.append(self.r.choice(pool))
        if not refs:
            refs = [self.pick("identity") or STATEMENT_ID]
        obj = self.sdo("report", name=f"{self.word().title()} campaign report",
                       report_types=["threat-report"],
                       description=" ".join(self.word() for _ in range(self.r.randint(20, 60))),
                       object_refs=list(dict.fromkeys(refs)))
        obj["published"] = obj["created"]
        if self.r.random() < 0.1:
            obj["granular_markings"] = [{"marking_ref": TLP_ID["red"], "selectors": ["description"]}]
        return obj

    def relationship(self) -> dict | None:
        options = (("indicator", "indicates", "malware"), ("threat-actor", "uses", "malware"),
                   ("indicator", "related-to", "sco"), ("threat-actor", "located-at", "location"),
                   ("malware", "authored-by", "threat-actor"), ("indicator", "related-to", "indicator"),
                   ("identity", "located-at", "location"))
        a, rel, b = self.r.choice(options)
        src, dst = self.pick(a), self.pick(b)
        if src is None or dst is None:
            return None
        return self.sdo("relationship", relationship_type=rel, source_ref=src, target_ref=dst)

    def new_version(self) -> dict | None:
        if not self.versionable:
            return None
        oid = self.r.choice(self.versionable)
        prev = self.latest[oid]
        obj = dict(prev)
        when = max(_us_of(prev["modified"]) - EPOCH_US + 1000,
                   self.clock + self.r.randint(1_000, 5_000_000))
        self.clock = max(self.clock, when)
        obj["modified"] = _ts(when)
        obj["confidence"] = self.r.randint(10, 100)
        if self.r.random() < 0.05:
            obj["revoked"] = True
            self.versionable.remove(oid)
        return obj

    def one(self) -> dict:
        while True:
            kind = self.kinds[_index(self.cum, self.r.random())]
            if kind == "identity" or not self.pools.get("identity"):
                obj = self.identity()
            elif kind == "sco":
                obj = self.sco()
            elif kind == "version":
                obj = self.new_version()
            elif kind == "relationship":
                obj = self.relationship()
            else:
                obj = getattr(self, kind.replace("-", "_"))()
            if obj is None:
                continue
            t = obj["type"]
            pool_key = "sco" if t in SCO_TYPES else t
            if kind != "version":
                if t in SCO_TYPES and obj["id"] in self.seen_scos:
                    continue  # the same observable twice would be a duplicate, not an object
                if t in SCO_TYPES:
                    self.seen_scos.add(obj["id"])
                pool = self.pools.setdefault(pool_key, [])
                if len(pool) < 5000:
                    pool.append(obj["id"])
                elif self.r.random() < 0.2:
                    pool[self.r.randrange(len(pool))] = obj["id"]
                if t in ("indicator", "malware", "threat-actor", "report"):
                    self.versionable.append(obj["id"])
                    if len(self.versionable) > 20000:
                        old = self.versionable.pop(0)
                        self.latest.pop(old, None)
            if t in ("indicator", "malware", "threat-actor", "report") and not obj.get("revoked"):
                self.latest[obj["id"]] = obj
            return obj

    seen_scos: set[str]


def _cumulative(weights: tuple[int, ...]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


def _index(cum: list[float], x: float) -> int:
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1


def statement_marking() -> dict:
    return {"type": "marking-definition", "spec_version": "2.1", "id": STATEMENT_ID,
            "created": "2024-01-01T00:00:00.000Z", "definition_type": "statement",
            "name": "Benchmark copyright", "definition": {"statement": "Copyright 2024, Benchmark Org"}}


def meta_of(obj: dict) -> Meta:
    refs = obj.get("object_marking_refs", ())
    levels = [TLP2_IDS[m] for m in refs if m in TLP2_IDS]
    tlp = max(tlp_rank(level) for level in levels) if levels else None
    others = tuple(m for m in refs if m not in TLP2_IDS)
    if "modified" in obj:
        vt: str | None = obj["modified"]
    else:
        vt = obj.get("created")
    ref_a = obj.get("source_ref") if obj["type"] == "relationship" else None
    ref_b = obj.get("target_ref") if obj["type"] == "relationship" else None
    return Meta(obj["id"], obj["type"], _us_of(vt) if vt else None, vt, tlp, others, ref_a, ref_b)


def generate(n: int, seed: int = 1, envelope_size: int = 1000, samples: int = 2000) -> Dataset:
    """`n` objects (the first is the statement marking-definition) in envelopes."""
    g = _Gen(seed)
    g.seen_scos = set()
    ds = Dataset(n, seed, envelope_size)
    latest_type: dict[str, str] = {}
    objs: list[dict] = [statement_marking()]
    produced = 1
    all_ids: list[str] = []
    rs = random.Random(seed + 1)

    def flush() -> None:
        env = orjson.dumps({"objects": objs})
        ds.envelopes.append(env)
        ds.metas.append([meta_of(o) for o in objs])
        ds.bytes_total += len(env)
        for o in objs:
            if o["id"] not in latest_type:
                all_ids.append(o["id"])
            latest_type[o["id"]] = o["type"]

    while produced < n:
        if len(objs) == envelope_size:
            flush()
            objs = []
        objs.append(g.one())
        produced += 1
    if objs:
        flush()
    ds.latest_count = len(latest_type)
    counts: dict[str, int] = {}
    for t in latest_type.values():
        counts[t] = counts.get(t, 0) + 1
    ds.type_counts = counts
    ds.sample_ids = rs.sample(all_ids, min(samples, len(all_ids)))
    return ds


def objects_of(ds: Dataset) -> list[dict]:
    """Every object of the dataset, parsed back (for preloading medallion)."""
    out: list[dict] = []
    for env in ds.envelopes:
        out.extend(orjson.loads(env)["objects"])
    return out
