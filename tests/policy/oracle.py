"""An independent oracle of the release decision, written from DESIGN "The release decision".

It imports nothing from `liaison`: the TLP ids below are the published STIX 2.1 §7.2.1.4
(TLP 1.0) and cti-stix-common-objects (TLP 2.0) identifiers, and the rules are the
DESIGN's sentences turned into plain Python, applied to the objects as the test wrote
them (their JSON), who wrote them (origin) and what the test defined as markings.

Rules for a partner reading one object version of one collection (all must hold):

- the partner exists (not removed) and an active agreement (not revoked, valid_from
  <= now < valid_until) covers the collection with direction pull or both;
- the standard TLP marking-definitions are public (released wherever an agreement is);
- the object's TLP is the highest TLP marking on it (1.0 WHITE = CLEAR), or the
  collection default (AMBER) when it has none;
- every marking on it is known (standard TLP, or defined on this node by a local
  user: a statement or a releasability marking); unknown -> withheld;
- every releasability marking on it lists the partner's organisation (an empty list
  releases to no one); a releasability marking-definition is itself released only
  to the organisations it lists;
- a granular marking that restricts a part of the object beyond its own markings
  (a higher TLP, or any marking the object does not carry) withholds the object;
- some active agreement admits the TLP, and for material received from another
  partner also allows re-sharing with the TLP at most GREEN;
- a relationship's source_ref/target_ref and a sighting's sighting_of_ref must be
  present in the collection (latest version) and themselves released; an endpoint
  that is itself a relationship or sighting withholds (STIX 2.1 §5.1.1/§5.2 allow
  only SDOs/SCOs there; node decision, fail closed).

Local users: the admin reads everything, others what their grants allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLEAR, GREEN, AMBER, AMBER_STRICT, RED = range(5)
LEVEL = {"clear": CLEAR, "green": GREEN, "amber": AMBER, "amber+strict": AMBER_STRICT,
         "red": RED}
COLLECTION_DEFAULT = AMBER

TLP1 = {  # STIX 2.1 §7.2.1.4
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
TLP2 = {  # oasis-open/cti-stix-common-objects, tlp-2.0
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_RANK = {**{mid: (CLEAR if c == "white" else LEVEL[c]) for c, mid in TLP1.items()},
            **{mid: LEVEL[c] for c, mid in TLP2.items()}}
RELEASABILITY_EXTENSION = "extension-definition--597dcfc8-69f7-40d5-aa83-b24ade99cb8d"


@dataclass(frozen=True)
class Deal:
    """One agreement as the test wrote it."""

    collections: frozenset[str]
    direction: str
    max_tlp: int
    reshare: bool = False
    valid_from: int | None = None
    valid_until: int | None = None
    revoked: bool = False

    def active(self, now: int) -> bool:
        return (not self.revoked and (self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))


@dataclass
class Who:
    """A principal class: local user, partner, or someone without valid credentials."""

    kind: str  # "anon", "revoked", "admin", "user", "partner"
    name: str = ""
    org: str = ""
    grants: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    deals: list[Deal] = field(default_factory=list)
    removed: bool = False

    @property
    def authenticated(self) -> bool:
        return self.kind not in ("anon", "revoked") and not self.removed

    def access(self, coll: str, now: int) -> tuple[bool, bool]:
        """(can_read, can_write) on a collection right now."""
        if not self.authenticated:
            return False, False
        if self.kind == "admin":
            return True, True
        if self.kind == "user":
            return self.grants.get(coll, (False, False))
        live = [d for d in self.deals if coll in d.collections and d.active(now)]
        return (any(d.direction in ("pull", "both") for d in live),
                any(d.direction in ("push", "both") for d in live))

    def read_deals(self, coll: str, now: int) -> list[Deal]:
        return [d for d in self.deals if coll in d.collections and d.active(now)
                and d.direction in ("pull", "both")]


@dataclass
class Version:
    """One stored object version as the test knows it."""

    obj: dict[str, Any]
    origin: str | None  # the partner name that wrote it, None for local material
    date_added: str = ""

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def version(self) -> str:
        o = self.obj
        return str(o.get("modified") or o.get("created"))


@dataclass
class Registry:
    """Markings defined on this node by local users: id -> None (statement) or orgs."""

    known: dict[str, frozenset[str] | None] = field(default_factory=dict)


def _object_tlp(obj: dict[str, Any]) -> int | None:
    ranks = [TLP_RANK[m] for m in obj.get("object_marking_refs", []) if m in TLP_RANK]
    return max(ranks) if ranks else None


def _own_markings(obj: dict[str, Any]) -> list[str]:
    marks = [m for m in obj.get("object_marking_refs", []) if m not in TLP_RANK]
    ext = (obj.get("extensions") or {}).get(RELEASABILITY_EXTENSION)
    if obj.get("type") == "marking-definition" and isinstance(ext, dict):
        marks.append(obj["id"])  # a releasability definition goes only where it says
    return marks


def _restricted(obj: dict[str, Any]) -> bool:
    own = set(obj.get("object_marking_refs", []))
    tlp = _object_tlp(obj)
    for g in obj.get("granular_markings", []):
        ref = g.get("marking_ref")
        if ref is None or ref in own:
            continue
        if ref in TLP_RANK and tlp is not None and TLP_RANK[ref] <= tlp:
            continue
        return True
    return False


def released(who: Who, coll: str, v: Version, latest: dict[str, Version],
             registry: Registry, now: int) -> bool:
    """Whether version `v` of collection `coll` goes to `who` (a partner) right now."""
    if who.kind != "partner":
        return who.access(coll, now)[0]
    if not who.authenticated:
        return False
    deals = who.read_deals(coll, now)
    if not deals:
        return False
    obj = v.obj
    if obj.get("type") == "marking-definition" and obj["id"] in TLP_RANK:
        return True
    for m in _own_markings(obj):
        if m not in registry.known:
            return False  # unknown marking: fail closed
        orgs = registry.known[m]
        if orgs is not None and who.org not in orgs:
            return False  # releasability that does not list the partner
    if _restricted(obj):
        return False
    tlp = _object_tlp(obj)
    tlp = COLLECTION_DEFAULT if tlp is None else tlp
    own = v.origin is None or v.origin == who.name
    if not any(tlp <= d.max_tlp and (own or (d.reshare and tlp <= GREEN)) for d in deals):
        return False
    ends: list[str] = []
    if obj.get("type") == "relationship":
        ends = [obj["source_ref"], obj["target_ref"]]
    elif obj.get("type") == "sighting":
        ends = [obj["sighting_of_ref"]]
    for ref in ends:
        end = latest.get(ref)
        if end is None or end.obj["type"] in ("relationship", "sighting"):
            return False
        if not released(who, coll, end, latest, registry, now):
            return False
    return True


@dataclass
class CollectionModel:
    """Every version stored in one collection, in date_added order."""

    name: str
    versions: list[Version] = field(default_factory=list)

    def latest(self) -> dict[str, Version]:
        out: dict[str, Version] = {}
        for v in self.versions:
            prev = out.get(v.id)
            if prev is None or v.version > prev.version:
                out[v.id] = v
        return out

    def visible(self, who: Who, registry: Registry, now: int) -> list[Version]:
        """Every version `who` may read, in date_added order (match[version]=all)."""
        latest = self.latest()
        return [v for v in self.versions if released(who, self.name, v, latest, registry, now)]

    def visible_latest(self, who: Who, registry: Registry, now: int) -> list[Version]:
        """The default `match[version]=last`: latest versions that are released."""
        latest = self.latest()
        return [v for v in self.versions if latest[v.id] is v
                and released(who, self.name, v, latest, registry, now)]
