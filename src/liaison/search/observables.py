"""Observable values: extraction from SCOs and normal forms, so that equal things compare equal.

Pure functions, no I/O.  The same normal form is applied at ingest (to SCO properties
and to the values of indicator patterns, see `search.patterns`) and at query time (to
what an analyst types, after re-fanging), so a lookup is an exact match on an index.

Kinds and their normal forms (DESIGN "observable"; docs/search.md has the table):

- ``ipv4`` / ``ipv6`` — an address or a CIDR block (STIX 2.1 §6.4, §6.5 allow both in
  ``value``).  IPv4 dotted quad without leading zeros; IPv6 RFC 5952 (lowercase,
  ``::`` compression); host bits cleared; ``/32`` and ``/128`` dropped; an
  IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is the IPv4 address; a zone
  (``%eth0``) is dropped.  Every address and block also carries its first and last
  address as 16-byte big-endian bounds (IPv4 mapped into ``::ffff:0:0/96``), which the
  index uses for "which blocks contain 10.1.2.3?" (a handful of index seeks).
- ``domain`` — lowercase, trailing dot removed, internationalised names as A-labels
  (``bücher.example`` and ``xn--bcher-kva.example`` are one value; UTS 46 mapping).
- ``url`` — scheme and host lowercase (host as a domain or address above), default
  port dropped, empty path ``/``, percent-escapes uppercased and unreserved characters
  decoded (RFC 3986 §6.2.2); path, query and fragment otherwise kept.  A URL also
  mentions its host (``via`` "url-host").
- ``email`` — lowercase.  ``mac`` — ``aa:bb:cc:dd:ee:ff``.  ``asn`` — the number.
- ``hash:<algorithm>`` — algorithm names folded (``SHA256``, ``sha-256`` →
  ``sha-256``); hexadecimal digests lowercase, others (ssdeep) as given.
- ``windows-registry-key`` — lowercase, hive abbreviations expanded (``HKLM`` →
  ``hkey_local_machine``); ``x509-serial`` — lowercase hex without separators;
  ``cpe`` — lowercase; ``file-name``, ``directory``, ``mutex``, ``user-account`` — as
  given (trimmed).

A value that does not parse as its kind (an ``ipv4-addr`` whose value is not an
address) is kept trimmed under its kind, without bounds.  Values longer than
`MAX_VALUE` bytes are not indexed (they stay searchable as full text).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

MAX_VALUE = 1000
"""Longest value indexed, in UTF-8 bytes (PostgreSQL b-tree entries stop at ~2.7 kB)."""

V4_BASE = b"\x00" * 10 + b"\xff\xff"
"""IPv4 bounds live in ::ffff:0:0/96, so one 16-byte ordering covers both families."""


class Observable(NamedTuple):
    """One normalised value an object mentions (`via`: how it mentions it)."""

    kind: str
    value: str
    lo: bytes | None = None
    hi: bytes | None = None
    via: str = "object"


# -- addresses ------------------------------------------------------------------------
_V4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?")


def _bounds(start: int, prefix: int, bits: int) -> tuple[bytes, bytes]:
    """16-byte bounds of a block given in its family's own `bits`."""
    size = (1 << (bits - prefix)) - 1
    if bits == 32:
        return (V4_BASE + start.to_bytes(4, "big"), V4_BASE + (start | size).to_bytes(4, "big"))
    return start.to_bytes(16, "big"), (start | size).to_bytes(16, "big")


def _v4(a: int, prefix: int, via: str, text: str | None = None) -> Observable:
    if prefix == 32:
        packed = V4_BASE + a.to_bytes(4, "big")
        return Observable("ipv4", text or ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0)),
                          packed, packed, via)
    start = a & ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
    lo, hi = _bounds(start, prefix, 32)
    dotted = ".".join(str((start >> s) & 255) for s in (24, 16, 8, 0))
    return Observable("ipv4", f"{dotted}/{prefix}", lo, hi, via)


def _octet(part: str) -> int:
    n = int(part)
    if n > 255 or (len(part) > 1 and part[0] == "0"):
        raise ValueError(part)  # leading zeros are ambiguous (octal?): not an address
    return n


def ip(text: str, via: str = "object") -> Observable | None:
    """An address or CIDR block of either family in normal form, or None."""
    t = text.strip()
    m = _V4.fullmatch(t)
    if m:
        try:
            a = (_octet(m[1]) << 24) | (_octet(m[2]) << 16) | (_octet(m[3]) << 8) | _octet(m[4])
            prefix = 32 if m[5] is None else _octet(m[5])
        except ValueError:
            return None
        if prefix > 32:
            return None
        return _v4(a, prefix, via, t if m[5] is None else None)
    if ":" not in t:
        return None
    if t.startswith("[") and "]" in t:
        t = t[1:].replace("]", "", 1)
    address, _, prefix_text = t.partition("/")
    address = address.split("%", 1)[0]
    try:
        net = ipaddress.IPv6Network(f"{address}/{prefix_text or 128}", strict=False)
    except ValueError:
        return None
    start, prefix = int(net.network_address), net.prefixlen
    mapped = net.network_address.ipv4_mapped
    if mapped is not None and prefix >= 96:
        return _v4(int(mapped), prefix - 96, via)
    lo, hi = _bounds(start, prefix, 128)
    text = str(net.network_address) if prefix == 128 else str(net)
    return Observable("ipv6", text, lo, hi, via)


def span(lo: bytes, hi: bytes) -> int:
    """The size of the block [lo, hi] as a bit count: 0 for one address, 8 for an IPv4
    /24 or an IPv6 /120 (the range index is probed only at the spans a store holds)."""
    return (int.from_bytes(hi, "big") - int.from_bytes(lo, "big")).bit_length()


def family_bits(kind: str) -> int:
    """How many bits an address of this kind has (IPv4 is stored IPv4-mapped)."""
    return 32 if kind == "ipv4" else 128


def containing_blocks(lo: bytes, hi: bytes, bits: int, spans: Iterable[int],
                      ) -> list[tuple[bytes, bytes]]:
    """The (start, end) bounds of each block of the given `spans` that contains all of
    [lo, hi]: the address with its low `span` bits cleared and set, for the spans from
    [lo, hi]'s own up to its family's `bits` (an IPv4 block of span 8 is a /24).  Every
    stored block is aligned (`ip`), so a block of a given size is one exact pair."""
    low = int.from_bytes(lo, "big")
    own = span(lo, hi)
    out = []
    for n in sorted(spans):
        if own <= n <= bits:
            start = (low >> n) << n
            out.append((start.to_bytes(16, "big"), (start | ((1 << n) - 1)).to_bytes(16, "big")))
    return out


# -- names ---------------------------------------------------------------------------------
def domain(text: str) -> str:
    """A domain name in normal form (never fails: odd names are trimmed and lowercased)."""
    t = text.strip().rstrip(".")
    if t.isascii():
        return t.lower()
    try:
        import idna

        return idna.encode(t, uts46=True).decode("ascii")
    except (ImportError, UnicodeError, ValueError):
        pass
    try:
        return t.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return t.casefold()


_HOST = re.compile(r"(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+"
                   r"(?:[a-z][a-z0-9-]{0,61}[a-z0-9]|xn--[a-z0-9-]{1,59})")


def looks_like_domain(text: str) -> bool:
    return _HOST.fullmatch(text) is not None


def host(text: str) -> Observable | None:
    """A URL host: an address (brackets allowed) or a domain name."""
    found = ip(text, "url-host")
    if found is not None:
        return found
    name = domain(text)
    return Observable("domain", name, via="url-host") if name else None


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escapes(part: str) -> str:
    if "%" not in part:
        return part

    def fix(m: re.Match[str]) -> str:
        byte = int(m[1], 16)
        return chr(byte) if byte in _UNRESERVED else "%" + m[1].upper()

    return _ESCAPE.sub(fix, part)


_SIMPLE_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                         r"\.[A-Za-z][A-Za-z0-9-]*)((?:[/?#][^%]*)?)")
"""A URL with a plain ASCII host name, no port, user or escapes: normalised directly."""


def url(text: str) -> tuple[str, Observable | None] | None:
    """(normal form, host) of an absolute URL, or None if `text` has no scheme/host."""
    t = text.strip()
    simple = _SIMPLE_URL.fullmatch(t)
    if simple is not None:
        name = simple[2].lower()
        rest = simple[3] or "/"
        if rest[0] != "/":
            rest = "/" + rest
        return (f"{simple[1].lower()}://{name}{rest}",
                Observable("domain", name, None, None, "url-host"))
    try:
        parts = urlsplit(t)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    scheme = parts.scheme.lower()
    found = host(parts.hostname) if parts.hostname else None
    netloc = parts.netloc.rpartition("@")[2]
    userinfo = parts.netloc[: len(parts.netloc) - len(netloc)]
    if found is not None:
        name = f"[{found.value}]" if found.kind == "ipv6" else found.value
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            name = f"{name}:{port}"
        netloc = name
    path = _escapes(parts.path) or "/"
    out = urlunsplit((scheme, userinfo + netloc, path, _escapes(parts.query),
                      _escapes(parts.fragment)))
    return out, found


def email(text: str) -> str:
    local, at, dom = text.strip().rpartition("@")
    if not at:
        return text.strip().lower()
    return f"{local.lower()}@{domain(dom)}"


_MAC_HEX = re.compile(r"[0-9a-f]{12}")


def mac(text: str) -> str:
    t = text.strip().lower()
    bare = t.replace(":", "").replace("-", "").replace(".", "")
    if _MAC_HEX.fullmatch(bare):
        return ":".join(bare[i : i + 2] for i in range(0, 12, 2))
    return t


_ALGORITHMS = {"md5": "md5", "sha1": "sha-1", "sha224": "sha-224", "sha256": "sha-256",
               "sha384": "sha-384", "sha512": "sha-512", "sha3224": "sha3-224",
               "sha3256": "sha3-256", "sha3384": "sha3-384", "sha3512": "sha3-512",
               "ssdeep": "ssdeep", "tlsh": "tlsh"}
_HEX = re.compile(r"[0-9a-fA-F]+")
HASH_LENGTHS = {32: ("md5",), 40: ("sha-1",), 56: ("sha-224", "sha3-224"),
                64: ("sha-256", "sha3-256"), 96: ("sha-384", "sha3-384"),
                128: ("sha-512", "sha3-512")}


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@functools.lru_cache(maxsize=256)
def algorithm(name: str) -> str:
    folded = _NOT_ALNUM.sub("", name.lower())
    return _ALGORITHMS.get(folded, name.strip().lower())


def digest(text: str, alg: str = "") -> str:
    """A digest in normal form: hexadecimal (and TLSH, "T1" + hex) lowercase; others
    (ssdeep, base64) as given."""
    t = text.strip()
    return t.lower() if alg == "tlsh" or _HEX.fullmatch(t) else t


_HIVES = {"hklm": "hkey_local_machine", "hkcu": "hkey_current_user",
          "hkcr": "hkey_classes_root", "hku": "hkey_users", "hkcc": "hkey_current_config"}


def registry_key(text: str) -> str:
    t = text.strip().rstrip("\\").lower()
    head, sep, rest = t.partition("\\")
    return _HIVES.get(head, head) + sep + rest


def serial(text: str) -> str:
    return re.sub(r"[\s:]", "", text.strip().lower())


def asn(value: Any) -> str | None:
    text = str(value).strip().upper().removeprefix("ASN").removeprefix("AS").strip()
    return str(int(text)) if text.isdigit() else None


# -- one value of a known kind -------------------------------------------------------------
def _plain(kind: str, value: str, via: str) -> Observable:
    return Observable(kind, value, None, None, via)


def of_kind(kind: str, raw: Any, via: str = "object") -> list[Observable]:
    """The observables a value of `kind` ("ip", "domain", "url", …, "hash:<alg>") gives."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return []
    if kind == "asn":
        number = asn(raw)
        return [_plain("asn", number, via)] if number else []
    if not isinstance(raw, str) or not raw.strip():
        return []
    text = raw
    if kind in ("ip", "ipv4", "ipv6"):
        found = ip(text, via)
        if found is not None:
            return [found]
        return [_plain("ipv6" if kind == "ipv6" else "ipv4", text.strip(), via)]
    if kind == "url":
        parsed = url(text)
        if parsed is None:
            return [_plain("url", text.strip(), via)]
        normal, hosted = parsed
        return [_plain("url", normal, via)] + ([hosted] if hosted is not None else [])
    if kind.startswith("hash:"):
        alg = algorithm(kind[5:])
        return [_plain("hash:" + alg, digest(text, alg), via)]
    fold = _FOLD.get(kind)
    return [_plain(kind, fold(text) if fold else text.strip(), via)]


_FOLD = {"domain": domain, "email": email, "mac": mac, "windows-registry-key": registry_key,
         "x509-serial": serial, "cpe": lambda t: t.strip().lower()}

GUESS = "guess"
"""The kind of a value reached through a reference (`dst_ref.value`): found by its form."""


def guessed(text: Any, via: str) -> list[Observable]:
    """Observables of a value whose kind is known only by its form (ip, email, url, …)."""
    if not isinstance(text, str) or not text.strip():
        return []
    t = text.strip()
    found = ip(t, via)
    if found is not None:
        return [found]
    if "://" in t:
        return of_kind("url", t, via)
    if "@" in t:
        return of_kind("email", t, via)
    if _MAC_HEX.fullmatch(t.lower().replace(":", "").replace("-", "")) and len(t) == 17:
        return of_kind("mac", t, via)
    return of_kind("domain", t, via)


# -- SCOs ----------------------------------------------------------------------------------
_VALUE_KIND = {"ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "domain-name": "domain",
               "url": "url", "email-addr": "email", "mac-addr": "mac"}
_PROPERTY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    "autonomous-system": (("number", "asn"),),
    "file": (("name", "file-name"),),
    "artifact": (("url", "url"),),
    "x509-certificate": (("serial_number", "x509-serial"),),
    "directory": (("path", "directory"),),
    "mutex": (("name", "mutex"),),
    "windows-registry-key": (("key", "windows-registry-key"),),
    "user-account": (("account_login", "user-account"),),
    "software": (("cpe", "cpe"),),
}
HASHED = frozenset({"file", "artifact", "x509-certificate"})
INDEXED_SCO_TYPES = frozenset(_VALUE_KIND) | frozenset(_PROPERTY_KIND)


def _hashes(hashes: Any, via: str) -> Iterator[Observable]:
    if isinstance(hashes, dict):
        for name, value in hashes.items():
            if isinstance(value, str) and value.strip():
                alg = algorithm(name)
                yield _plain("hash:" + alg, digest(value, alg), via)


def from_sco(obj: dict[str, Any]) -> list[Observable]:
    """Every identifying value of one SCO (STIX 2.1 §6), normalised."""
    t = obj.get("type")
    out: list[Observable] = []
    kind = _VALUE_KIND.get(t)  # type: ignore[arg-type]
    if kind is not None:
        out += of_kind(kind, obj.get("value"))
    for prop, k in _PROPERTY_KIND.get(t, ()):  # type: ignore[arg-type]
        out += of_kind(k, obj.get(prop))
    if t in HASHED:
        out += _hashes(obj.get("hashes"), "object")
    return out


def fits(value: str) -> bool:
    """Whether a value can be indexed (short enough, no NUL, which PostgreSQL refuses)."""
    return (len(value) <= MAX_VALUE // 4 or len(value.encode()) <= MAX_VALUE) and (
        "\x00" not in value)


def unique(found: Iterable[Observable]) -> tuple[Observable, ...]:
    """One observable per (kind, value), the first `via` winning; too long ones dropped."""
    seen: dict[tuple[str, str], Observable] = {}
    for o in found:
        if fits(o.value):
            seen.setdefault((o.kind, o.value), o)
    return tuple(seen.values())
