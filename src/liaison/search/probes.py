"""What an analyst typed, as keys of the observable index (lookup, correlation).

Input is re-fanged first (``hxxp://evil[.]com`` → ``http://evil.com``; `refang`), then
recognised by its form — address or CIDR block, URL, AS number, e-mail address, MAC
address, hash digest (by length), domain name, URL without a scheme — and put in the
normal form of `search.observables`.  The value as typed (trimmed) is always looked
up too, so names kept verbatim (file names, mutexes, registry keys) are found.  A
`kind` given by the caller overrides the guess.  Nothing here fails: a value that is
nothing in particular is looked up as it is, and unknown values are simply not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liaison.search import observables as ob

_REFANG = [
    (re.compile(r"^h(?:xx|XX|\*\*|tt)p(s?)(?=[\[:])", re.IGNORECASE), r"http\1"),
    (re.compile(r"^fxp(?=[\[:])", re.IGNORECASE), "ftp"),
    (re.compile(r"\[\s*:\s*//\s*\]|\[:\]//|:\[//\]"), "://"),
    (re.compile(r"[\[({]\s*(?:\.|dot)\s*[\])}]|\\\.", re.IGNORECASE), "."),
    (re.compile(r"\[\s*:\s*\]"), ":"),
    (re.compile(r"[\[({]\s*(?:@|at)\s*[\])}]", re.IGNORECASE), "@"),
    (re.compile(r"\[/\]"), "/"),
]
_ASN = re.compile(r"(?i)ASN?\s*(\d{1,10})")
_MAC = re.compile(r"(?i)[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_TLSH = re.compile(r"[Tt]1[0-9a-fA-F]{68,}")
KINDS = ("ipv4", "ipv6", "domain", "url", "email", "mac", "asn", "hash", "file-name",
         "directory", "mutex", "windows-registry-key", "user-account", "x509-serial", "cpe")
"""Kinds a caller may name (``hash`` means any algorithm, ``hash:sha-256`` one)."""
ALL_HASHES = ("hash:md5", "hash:sha-1", "hash:sha-224", "hash:sha-256", "hash:sha-384",
              "hash:sha-512", "hash:sha3-224", "hash:sha3-256", "hash:sha3-384",
              "hash:sha3-512", "hash:ssdeep", "hash:tlsh")


def refang(text: str) -> str:
    """Undo the usual defanging of indicators (brackets around dots, hxxp, [@], …)."""
    t = text.strip()
    if not any(c in t for c in "[({\\*") and not t[:4].lower() in ("hxxp", "fxp:"):
        return t
    for pattern, repl in _REFANG:
        t = pattern.sub(repl, t)
    return t


@dataclass(frozen=True, slots=True)
class Probe:
    """One asked value: its normal form and the index keys that find it."""

    asked: str
    kind: str
    """What the value was recognised as ("value" when nothing in particular)."""
    normal: str
    exact: tuple[str, ...] = ()
    """Values matched exactly, whatever their kind (or only `kinds`, when given)."""
    kinds: tuple[str, ...] = ()
    net: ob.Observable | None = None
    """An address or block: matched through the range index (containing blocks, and for
    a block also what lies inside it)."""


def _expand_kind(kind: str) -> tuple[str, ...]:
    if kind == "hash":
        return ALL_HASHES
    if kind.startswith("hash:"):
        return ("hash:" + ob.algorithm(kind[5:]),)
    return (kind,)


def probe(asked: str, kind: str | None = None) -> Probe:
    """The probe for one value as an analyst typed it."""
    t = refang(asked)
    if kind:
        return _explicit(asked, t, kind)
    net = ob.ip(t)
    if net is not None:
        return Probe(asked, net.kind, net.value, net=net)
    if "://" in t:
        parsed = ob.url(t)
        if parsed is not None:
            return Probe(asked, "url", parsed[0], _both(parsed[0], t))
    m = _ASN.fullmatch(t)
    if m:
        number = str(int(m[1]))
        return Probe(asked, "asn", number, (number,), ("asn",))
    if "@" in t and " " not in t:
        normal = ob.email(t)
        return Probe(asked, "email", normal, _both(normal, t))
    if _MAC.fullmatch(t):
        normal = ob.mac(t)
        return Probe(asked, "mac", normal, _both(normal, t))
    if (len(t) in ob.HASH_LENGTHS and _HEX.fullmatch(t)) or _TLSH.fullmatch(t):
        return Probe(asked, "hash", t.lower(), _both(t.lower(), t))
    name = ob.domain(t)
    if ob.looks_like_domain(name):
        return Probe(asked, "domain", name, _both(name, t))
    host, slash, _ = t.partition("/")
    if slash and ob.looks_like_domain(ob.domain(host)):
        forms = [ob.url(f"{scheme}://{t}") for scheme in ("http", "https")]
        normals = tuple(f[0] for f in forms if f is not None)
        return Probe(asked, "url", normals[0] if normals else t, _both(*normals, t))
    extra = (ob.registry_key(t),) if t[:2].upper() == "HK" else ()
    return Probe(asked, "value", t, _both(t, *extra))


def _both(*values: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v and ob.fits(v)))


def _explicit(asked: str, t: str, kind: str) -> Probe:
    kinds = _expand_kind(kind)
    if kind in ("ipv4", "ipv6", "ip"):
        net = ob.ip(t)
        if net is not None:
            return Probe(asked, net.kind, net.value, net=net)
        return Probe(asked, kind, t, (t,), ("ipv4", "ipv6"))
    base = "hash:md5" if kind == "hash" else kinds[0]
    found = ob.of_kind(base, t)
    normal = found[0].value if found else t
    return Probe(asked, kind, normal, _both(normal), kinds)


def normal_word(word: str) -> str:
    """A search word as the index holds it, when it is an address or URL (for tokens)."""
    t = refang(word)
    net = ob.ip(t)
    if net is not None:
        return net.value
    if "://" in t:
        parsed = ob.url(t)
        if parsed is not None:
            return parsed[0]
    return t
