"""Liaison-only operations: lookup, full-text search, and a partner's read.

medallion has none of these (no lookup or search endpoint, no partner agreements); the
report shows them as "n/a" for it.  For Liaison:

- partner_read:  GET objects/?limit=PAGE as the bench partner (pull agreement up to
                 TLP:AMBER, set up by `bench.peers` before serving), following `next` to
                 the end.  Every page released to a partner is an audit entry, so this is
                 where the audit log costs on reads.  Checked: the partner receives a
                 good share of the collection and never more than its agreement allows.
- lookup_single: GET /liaison/lookup/?value=V, alternately a value present in the
                 dataset (an address, domain, URL, e-mail address or SHA-256 taken from
                 the generated observables and indicator patterns) and one absent from it;
                 then a fifth as many lookups of often-seen values (the hosts of the
                 indicators' URL patterns: a few hundred mentions each at 1M, a few at 10k),
                 asking for the newest 3 hits (the same answer at every N), whose cost
                 must not grow with the number of mentions (`often_p50_ms`).
- lookup_batch:  POST /liaison/lookup/ {"values": [...]} with `batch` values, half
                 present, half absent: ms per batch and values/s.
- search:        GET /liaison/search/?q=… rotating over four kinds of query: a word of
                 names and descriptions, `type:indicator` + a word, a quoted phrase (the
                 name of an object), an observable value.

Every answer is checked (HTTP 200; every present value found, and by the object it was
taken from; no absent value found; every search finds something, of the right type):
a wrong answer makes the operation "invalid" in the results and the report, loudly.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from bench.gen import Dataset
from bench.peers import Server
from bench.stats import latency_summary
from liaison.stix.markings import tlp_rank

LIAISON_ONLY = ("partner_read", "lookup_single", "lookup_batch", "search")
SEARCH_OPS = ("lookup_single", "lookup_batch", "search")
MEDALLION_NA = {"partner_read": "n/a — medallion has no partner agreements",
                "lookup_single": "n/a — medallion has no lookup/search",
                "lookup_batch": "n/a — medallion has no lookup/search",
                "search": "n/a — medallion has no lookup/search"}
NO_INDEX = "search index switched off on this peer (setting search_index)"
SEARCH_KINDS = ("word", "type_word", "phrase", "value")

_SCO_KIND = {"ipv4-addr": "ipv4", "domain-name": "domain", "url": "url", "email-addr": "email"}
_PATTERN = re.compile(r"\[([a-z0-9-]+):([^ ]+) = '([^']*)'\]")
_PATTERN_KIND = {"ipv4-addr": "ipv4", "domain-name": "domain", "url": "url", "file": "hash"}


@dataclass
class Probes:
    """What to ask about, taken from the dataset (deterministic from its seed)."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, value, object id)
    unseen: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    words: list[str] = field(default_factory=list)  # words of indicator names
    phrases: list[tuple[str, str]] = field(default_factory=list)  # (object name, id)
    often: list[str] = field(default_factory=list)  # URL hosts, most mentioned first
    envelopes_sampled: int = 0


def probes(ds: Dataset, pool: int = 20_000, envelopes: int = 40) -> Probes:
    """Values present in the dataset (from envelopes spread over it) and absent ones."""
    cached = getattr(ds, "_bench_probes", None)
    if cached is not None:
        return cached
    p = Probes()
    total = len(ds.envelopes)
    k = min(total, envelopes)
    picks = sorted({round(i * (total - 1) / max(1, k - 1)) for i in range(k)})
    values: dict[str, tuple[str, str, str]] = {}
    words: dict[str, None] = {}
    names: dict[str, tuple[str, str]] = {}
    hosts: dict[str, int] = {}
    for e in picks:
        for obj in orjson.loads(ds.envelopes[e])["objects"]:
            t, oid = obj["type"], obj["id"]
            if t in _SCO_KIND:
                values.setdefault(obj["value"], (_SCO_KIND[t], obj["value"], oid))
            elif t == "file" and obj.get("hashes", {}).get("SHA-256"):
                h = obj["hashes"]["SHA-256"]
                values.setdefault(h, ("hash", h, oid))
            elif t == "indicator":
                m = _PATTERN.fullmatch(obj.get("pattern", ""))
                if m and m.group(1) in _PATTERN_KIND:
                    values.setdefault(m.group(3), (_PATTERN_KIND[m.group(1)], m.group(3), oid))
                if m and m.group(1) == "url":
                    host = m.group(3).split("://", 1)[-1].split("/", 1)[0]
                    hosts[host] = hosts.get(host, 0) + 1
                name = obj.get("name", "")
                names.setdefault(name, (name, oid))
                for w in name.split()[:2]:
                    words[w] = None
            elif t == "report":
                names.setdefault(obj["name"], (obj["name"], oid))
    p.envelopes_sampled = len(picks)
    r = random.Random(ds.seed * 7919 + ds.n)
    p.seen = list(values.values())
    r.shuffle(p.seen)
    p.seen = p.seen[:pool]
    p.words = sorted(words)
    r.shuffle(p.words)
    p.phrases = sorted(names.values())
    r.shuffle(p.phrases)
    p.often = sorted(hosts, key=lambda h: (-hosts[h], h))[:50]
    for i in range(max(1000, min(pool, len(p.seen)))):
        kind = ("ipv4", "domain", "url", "email", "hash")[i % 5]
        # First octets 211-219 never occur (the generator draws 10-209); .example never.
        value = {"ipv4": f"{211 + i % 9}.{(i // 9) % 256}.{(i * 7) % 256}.{(i * 13) % 254 + 1}",
                 "domain": f"nx-{i:x}-bench.example",
                 "url": f"https://nx-{i:x}.example/never/{i}.php",
                 "email": f"nobody{i}@nx-bench.example",
                 "hash": hashlib.sha256(f"bench-unseen-{i}".encode()).hexdigest()}[kind]
        p.unseen.append((kind, value))
    ds._bench_probes = p  # type: ignore[attr-defined]  # one dataset, several peers
    return p


def partner_upper_bound(ds: Dataset, max_rank: int) -> int:
    """Distinct ids whose latest version's TLP is at most `max_rank` (or unmarked: the
    collection default, TLP:AMBER).  Other rules (granular markings, relationship
    endpoints) only withhold more, so a partner may receive at most this many (plus
    the TLP marking definitions the node stores with marked content)."""
    latest: dict[str, int | None] = {}
    for metas in ds.metas:
        for m in metas:
            latest[m.id] = m.tlp
    default = tlp_rank("amber")
    return sum(1 for t in latest.values() if (default if t is None else t) <= max_rank)


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.problems: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def wrong(self, text: str) -> None:
        self.problems.append(text)


def _answers(r: httpx.Response, expected: int, tally: _Tally, what: str) -> list[dict] | None:
    if r.status_code != 200:
        tally.wrong(f"{what}: HTTP {r.status_code}: {r.text[:200]}")
        return None
    answers = orjson.loads(r.content).get("values")
    if not isinstance(answers, list) or len(answers) != expected:
        tally.wrong(f"{what}: {len(answers or [])} answers for {expected} values")
        return None
    return answers


def _check_answer(a: dict, want: tuple, seen: bool, tally: _Tally) -> None:
    value = want[1]
    if a.get("value") != value:
        tally.wrong(f"answer for {value!r} names {a.get('value')!r}")
        return
    if seen:
        tally.add("seen_asked")
        if not a.get("seen"):
            tally.wrong(f"{want[0]} {value!r} (from {want[2]}) is in the store but came back "
                        f"not seen (normalised {a.get('normalised')!r}, kind {a.get('kind')!r})")
            return
        tally.add("seen_found")
        ids = {h.get("id") for h in a.get("hits", ())}
        tally.add("hits", len(ids))
        if want[2] not in ids and not a.get("more"):
            tally.wrong(f"{value!r}: found, but not in {want[2]}, the object it comes from "
                        f"(hits: {sorted(ids)[:3]})")
    else:
        tally.add("unseen_asked")
        if a.get("seen") or a.get("hits"):
            tally.add("unseen_found")
            tally.wrong(f"{want[0]} {value!r} is in no object but came back seen: "
                        f"{[h.get('id') for h in a.get('hits', ())][:3]}")


def _finish(out: dict, tally: _Tally) -> dict:
    out.update(tally.counts)
    if tally.problems:
        out["invalid"] = f"{len(tally.problems)} wrong answers; first: {tally.problems[0]}"
        out["problems"] = tally.problems[:5]
        out["problem_count"] = len(tally.problems)
        out["finished"] = False
    return out


def lookup_single(server: Server, ds: Dataset, count: int, repeat: Callable) -> dict:
    """`count` GET lookups of one value, alternately present and absent."""
    p = probes(ds)
    tally = _Tally()
    lat: list[float] = []

    def want(i: int) -> tuple[tuple, bool]:
        if i % 2 == 0 and p.seen:
            return p.seen[(i // 2) % len(p.seen)], True
        return p.unseen[(i // 2) % len(p.unseen)], False

    def request(c: httpx.Client, i: int, to: httpx.Timeout) -> httpx.Response:
        return c.get(f"{server.base}/liaison/lookup/", params={"value": want(i)[0][1]}, timeout=to)

    def check(r: httpx.Response, i: int) -> str | None:
        w, seen = want(i)
        answers = _answers(r, 1, tally, f"lookup of {w[1]!r}")
        if answers is not None:
            _check_answer(answers[0], w, seen, tally)
        return None

    out = repeat(server, count, request, check, lat)
    out["seen_p50_ms"] = latency_summary(lat[0::2]).get("p50_ms")
    out["unseen_p50_ms"] = latency_summary(lat[1::2]).get("p50_ms")
    out["distinct_seen_values"] = len(p.seen)
    if p.often:
        out.update(_often(server, p.often, max(10, count // 5), repeat))
    return _finish(out, tally)


OFTEN_LIMIT = 3
"""Hits asked for per often-seen value: every N answers with as many (the top hosts have
more mentions than this even at 10k), so what is compared is what reaching them costs."""


def _often(server: Server, hosts: list[str], count: int, repeat: Callable) -> dict:
    """Lookups of values mentioned by many objects (the hosts of URL patterns), for their
    newest `OFTEN_LIMIT` hits: each must be seen, with at most that many (and `more`)."""
    lat: list[float] = []
    hits: list[int] = []
    tally = _Tally()  # its own: a wrong answer here voids this figure, not the op's

    def request(c: httpx.Client, i: int, to: httpx.Timeout) -> httpx.Response:
        return c.get(f"{server.base}/liaison/lookup/", timeout=to,
                     params={"value": hosts[i % len(hosts)], "limit": OFTEN_LIMIT})

    def check(r: httpx.Response, i: int) -> str | None:
        what = f"often-seen {hosts[i % len(hosts)]!r}"
        answers = _answers(r, 1, tally, what)
        if answers is not None:
            if not answers[0].get("seen") or len(answers[0]["hits"]) > OFTEN_LIMIT:
                tally.wrong(f"{what}: seen {answers[0].get('seen')}, "
                            f"{len(answers[0]['hits'])} hits")
            else:
                hits.append(len(answers[0]["hits"]))
                tally.add("often_capped", int(bool(answers[0].get("more"))))
        return None

    res = repeat(server, count, request, check, lat)
    summary = latency_summary(lat)
    out = {"often_p50_ms": summary.get("p50_ms"), "often_p95_ms": summary.get("p95_ms"),
           "often_count": len(lat), "often_capped": tally.counts.get("often_capped", 0),
           "often_hits_median": sorted(hits)[len(hits) // 2] if hits else 0}
    if tally.problems or not res.get("finished"):  # no figure, and says why
        out["often_p50_ms"] = out["often_p95_ms"] = None
        out["often_invalid"] = tally.problems[0] if tally.problems else "did not finish"
    return out


def lookup_batch(server: Server, ds: Dataset, count: int, size: int, repeat: Callable) -> dict:
    """`count` POSTs of `size` values each, half present, half absent (interleaved)."""
    p = probes(ds)
    tally = _Tally()
    lat: list[float] = []
    half = size // 2

    def batch(i: int) -> list[tuple[tuple, bool]]:
        out: list[tuple[tuple, bool]] = []
        for k in range(size):
            if k % 2 == 0 and p.seen and k // 2 < half:
                out.append((p.seen[(i * half + k // 2) % len(p.seen)], True))
            else:
                out.append((p.unseen[(i * half + k // 2) % len(p.unseen)], False))
        return out

    def request(c: httpx.Client, i: int, to: httpx.Timeout) -> httpx.Response:
        return c.post(f"{server.base}/liaison/lookup/", timeout=to,
                      content=orjson.dumps({"values": [w[1] for w, _ in batch(i)]}),
                      headers={"Content-Type": "application/json"})

    def check(r: httpx.Response, i: int) -> str | None:
        wants = batch(i)
        answers = _answers(r, len(wants), tally, f"batch {i}")
        if answers is not None:
            for a, (w, seen) in zip(answers, wants):
                _check_answer(a, w, seen, tally)
        return None

    out = repeat(server, count, request, check, lat)
    out["values_per_batch"] = size
    secs = sum(lat)
    out["values"] = len(lat) * size
    out["values_per_s"] = len(lat) * size / secs if secs else 0
    if out.get("p50_ms"):
        out["values_per_s_at_p50"] = size / out["p50_ms"] * 1000
    out["distinct_seen_values"] = min(len(p.seen), count * half)
    return _finish(out, tally)


def search_queries(ds: Dataset, count: int) -> list[tuple[str, str, str | None]]:
    """(kind, q, id expected among the results when they are all on one page)."""
    p = probes(ds)
    values = [v for v in p.seen if v[0] in ("domain", "ipv4", "email")] or p.seen
    out: list[tuple[str, str, str | None]] = []
    for i in range(count):
        kind, j = SEARCH_KINDS[i % 4], i // 4
        if kind == "word":
            out.append((kind, p.words[j % len(p.words)], None))
        elif kind == "type_word":
            out.append((kind, f"type:indicator {p.words[(j + 1) % len(p.words)]}", None))
        elif kind == "phrase":
            name, oid = p.phrases[j % len(p.phrases)]
            out.append((kind, f'"{name}"', oid))
        else:
            _, value, oid = values[j % len(values)]
            out.append((kind, value, oid))
    return out


def search(server: Server, ds: Dataset, count: int, repeat: Callable) -> dict:
    queries = search_queries(ds, count)
    tally = _Tally()
    lat: list[float] = []

    def request(c: httpx.Client, i: int, to: httpx.Timeout) -> httpx.Response:
        return c.get(f"{server.base}/liaison/search/", params={"q": queries[i][1]}, timeout=to)

    def check(r: httpx.Response, i: int) -> str | None:
        kind, q, oid = queries[i]
        if r.status_code != 200:
            tally.wrong(f"search {q!r}: HTTP {r.status_code}: {r.text[:200]}")
            return None
        doc = orjson.loads(r.content)
        results = doc.get("results") or []
        tally.add("results", len(results))
        tally.add("total", int(doc.get("total") or 0))
        if not results or not doc.get("total"):
            tally.wrong(f"search {q!r} ({kind}): nothing found (total {doc.get('total')}), "
                        "though the dataset holds it")
            return None
        tally.add("found")
        if kind == "type_word" and any(x.get("type") != "indicator" for x in results):
            tally.wrong(f"search {q!r}: types {sorted({x.get('type') for x in results})}")
        if oid and not doc.get("more") and oid not in {x.get("id") for x in results}:
            tally.wrong(f"search {q!r} ({kind}): {doc.get('total')} results, all on the page, "
                        f"but not {oid}, the object it was taken from")
        return None

    out = repeat(server, count, request, check, lat)
    for k, kind in enumerate(SEARCH_KINDS):
        out[f"{kind}_p50_ms"] = latency_summary(lat[k::4]).get("p50_ms")
    out["queries"] = [q for _, q, _ in queries[:8]]
    return _finish(out, tally)


def check_partner_read(r: dict, ds: Dataset, server: Server, extra: int = 9) -> dict:
    """How much of the collection the partner received, against what it may receive
    (`extra`: objects the node stores beyond the dataset, the TLP definitions)."""
    upper = partner_upper_bound(ds, tlp_rank(server.partner_max_tlp or "amber"))
    got = r.get("objects", 0)
    r["partner_max_tlp"] = server.partner_max_tlp
    r["received_share_of_distinct_ids"] = got / ds.latest_count if ds.latest_count else None
    r["allowed_at_most"] = upper + extra
    if r.get("finished") is not False:
        if got > upper + extra:
            r["invalid"] = (f"the partner received {got:,} objects, more than the "
                            f"{upper + extra:,} its agreement (TLP ≤ {server.partner_max_tlp}) "
                            "allows")
            r["finished"] = False
        elif got < 0.5 * ds.latest_count:
            r["invalid"] = (f"the partner received only {got:,} of {ds.latest_count:,} "
                            f"objects ({upper:,} allowed by TLP): not a read worth measuring")
            r["finished"] = False
    return r
