"""Normal forms of observable values and their extraction from SCOs (search.observables),
and what an analyst types, re-fanged and recognised (search.probes).  Pure: no node.

The same tables are asked of both engines, through the index, in test_index_engines.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.search import observables as ob
from liaison.search.probes import probe, refang

V4 = ob.V4_BASE


def _v4(text: str) -> bytes:
    return V4 + ipaddress.IPv4Address(text).packed


# (input, kind, normal form, lo, hi) — kind "ipv4"/"ipv6" via ob.ip
ADDRESSES = [
    ("10.1.2.3", "ipv4", "10.1.2.3", _v4("10.1.2.3"), _v4("10.1.2.3")),
    (" 10.1.2.3 ", "ipv4", "10.1.2.3", _v4("10.1.2.3"), _v4("10.1.2.3")),
    ("10.1.2.3/32", "ipv4", "10.1.2.3", _v4("10.1.2.3"), _v4("10.1.2.3")),
    ("10.1.2.3/24", "ipv4", "10.1.2.0/24", _v4("10.1.2.0"), _v4("10.1.2.255")),
    ("0.0.0.0/0", "ipv4", "0.0.0.0/0", _v4("0.0.0.0"), _v4("255.255.255.255")),
    ("255.255.255.255", "ipv4", "255.255.255.255", _v4("255.255.255.255"),
     _v4("255.255.255.255")),
    ("2001:DB8::1", "ipv6", "2001:db8::1", None, None),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", "ipv6", "2001:db8::1", None, None),
    ("2001:db8:0:0:0:0:0:1/128", "ipv6", "2001:db8::1", None, None),
    ("[2001:db8::1]", "ipv6", "2001:db8::1", None, None),
    ("fe80::1%eth0", "ipv6", "fe80::1", None, None),
    ("2001:db8::1/32", "ipv6", "2001:db8::/32", None, None),
    ("2001:DB8:0:0:1:0:0:1", "ipv6", "2001:db8::1:0:0:1", None, None),
    ("::ffff:192.0.2.1", "ipv4", "192.0.2.1", _v4("192.0.2.1"), _v4("192.0.2.1")),
    ("::FFFF:C000:0201", "ipv4", "192.0.2.1", _v4("192.0.2.1"), _v4("192.0.2.1")),
    ("::ffff:192.0.2.0/120", "ipv4", "192.0.2.0/24", _v4("192.0.2.0"), _v4("192.0.2.255")),
    ("::", "ipv6", "::", bytes(16), bytes(16)),
]
NOT_ADDRESSES = ["010.1.2.3", "10.1.2", "256.1.2.3", "10.1.2.3/33", "1.2.3.4/08", "evil.com",
                 "2001:db8::g", "", "10.1.2.3.4", ":::"]


@pytest.mark.parametrize(("text", "kind", "normal", "lo", "hi"), ADDRESSES)
def test_address_normal_forms(text: str, kind: str, normal: str, lo: bytes | None,
                              hi: bytes | None) -> None:
    found = ob.ip(text)
    assert found is not None and (found.kind, found.value) == (kind, normal)
    if lo is not None:
        assert (found.lo, found.hi) == (lo, hi)
    net = ipaddress.ip_network(normal, strict=False)
    if kind == "ipv6":
        assert found.lo == net.network_address.packed
        assert found.hi == net.broadcast_address.packed
    assert found.lo is not None and found.hi is not None and len(found.lo) == 16


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_not_addresses(text: str) -> None:
    assert ob.ip(text) is None


@given(st.ip_addresses(), st.data())
@settings(max_examples=300, deadline=None)
def test_any_address_or_block_round_trips(address: object, data: st.DataObject) -> None:
    """Every address and block parses, its normal form parses to itself, and its bounds
    are the block's first and last address (IPv4 mapped into ::ffff:0:0/96)."""
    bits = 32 if isinstance(address, ipaddress.IPv4Address) else 128
    prefix = data.draw(st.integers(0, bits))
    net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    found = ob.ip(f"{address}/{prefix}")
    assert found is not None
    assert ob.ip(found.value) == found
    first, last = net.network_address.packed, net.broadcast_address.packed
    if bits == 32:
        first, last = V4 + first, V4 + last
    if bits == 128 and net.network_address.ipv4_mapped is not None and prefix >= 96:
        assert found.kind == "ipv4"
    else:
        assert found.kind == ("ipv4" if bits == 32 else "ipv6")
        assert (found.lo, found.hi) == (first, last)
    # The blocks that can contain it, one per size from its own up to the whole family.
    bits, own = ob.family_bits(found.kind), ob.span(found.lo, found.hi)
    blocks = ob.containing_blocks(found.lo, found.hi, bits, range(129))
    assert (found.lo, found.hi) in blocks  # the block contains itself
    assert len(blocks) == bits + 1 - own == (33 if found.kind == "ipv4" else 129) - own
    for n, (start, end) in zip(range(own, bits + 1), blocks, strict=True):
        assert start <= found.lo and found.hi <= end and ob.span(start, end) == n
        assert int.from_bytes(start, "big") % (1 << n) == 0  # aligned: the stored form
    # Only the sizes asked for (the ones a store holds), never one smaller than itself.
    want = [(found.lo, found.hi), blocks[-1]] if own < bits else [(found.lo, found.hi)]
    assert ob.containing_blocks(found.lo, found.hi, bits, {own, bits, 129}) == want


DOMAINS = [
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("  WWW.Example.com.  ", "www.example.com"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("_dmarc.Example.com", "_dmarc.example.com"),
]


@pytest.mark.parametrize(("text", "normal"), DOMAINS)
def test_domain_normal_forms(text: str, normal: str) -> None:
    assert ob.domain(text) == normal


URLS = [
    ("http://Example.COM", "http://example.com/", "example.com"),
    ("HTTP://EXAMPLE.COM:80/", "http://example.com/", "example.com"),
    ("https://example.com:443/a/B?x=Y#Frag", "https://example.com/a/B?x=Y#Frag", "example.com"),
    ("https://example.com:8443/", "https://example.com:8443/", "example.com"),
    ("http://example.com.:80/path", "http://example.com/path", "example.com"),
    ("http://example.com/%7euser/%2f%41", "http://example.com/~user/%2FA", "example.com"),
    ("http://example.com?q=1", "http://example.com/?q=1", "example.com"),
    ("http://bücher.example/x", "http://xn--bcher-kva.example/x", "xn--bcher-kva.example"),
    ("http://user:pw@Example.com/", "http://user:pw@example.com/", "example.com"),
    ("http://10.1.2.3:8080/x", "http://10.1.2.3:8080/x", "10.1.2.3"),
    ("http://[2001:DB8::1]/", "http://[2001:db8::1]/", "2001:db8::1"),
    ("ftp://FILES.example.com:21/a", "ftp://files.example.com/a", "files.example.com"),
]


@pytest.mark.parametrize(("text", "normal", "host"), URLS)
def test_url_normal_forms(text: str, normal: str, host: str) -> None:
    found = ob.url(text)
    assert found is not None
    assert found[0] == normal
    assert found[1] is not None and found[1].value == host and found[1].via == "url-host"


def test_the_fast_url_path_agrees_with_the_full_one(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["http://evil.com", "https://Evil.COM/a/B?x=1#f", "http://evil.com?q",
             "http://evil.com#frag", "https://a-b.c-d.example/x/y.php?q=%20",
             "https://sub.domain.example/path/with%2fescape", "HTTPS://X.Y.ORG"]
    fast = [ob.url(t) for t in texts]
    monkeypatch.setattr(ob, "_SIMPLE_URL", type("Never", (), {"fullmatch": lambda s, t: None})())
    assert [ob.url(t) for t in texts] == fast


def test_not_urls() -> None:
    assert ob.url("example.com/path") is None
    assert ob.url("http://") is None
    assert ob.url("http://example.com:99999/") is None  # a bad port: kept verbatim
    assert ob.of_kind("url", "http://example.com:99999/") == [
        ob.Observable("url", "http://example.com:99999/")]


HASHES = [
    ("MD5", "D41D8CD98F00B204E9800998ECF8427E", "hash:md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("SHA-1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "hash:sha-1",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("SHA1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "hash:sha-1",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("SHA-256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
     "hash:sha-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "hash:sha-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("SHA-512", ("CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0D13C5D85F2B0"
     "FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E"), "hash:sha-512",
     ("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
     "ff8318d2877eec2f63b931bd47417a81a538327af927da3e")),
    ("SHA3-256", "A7FFC6F8BF1ED76651C14756A061D662F580FF4DE43B49FA82D80A4B80F8434A",
     "hash:sha3-256", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"),
    ("SHA3-512", ("A69F73CCA23A9AC5C8B567DC185A756E97C982164FE25859E0D1DCC1475C80A6"
     "15B2123AF1F5F94C11E3E9402C3AC558F500199D95B6D3E301758586281DCD26"), "hash:sha3-512",
     ("a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
     "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26")),
    ("SSDEEP", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", "hash:ssdeep",
     "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"),
    ("TLSH", "T1A8E0D1A4E0C8B0C0F0A0", "hash:tlsh", "t1a8e0d1a4e0c8b0c0f0a0"),
    ("x-custom-algo", "ABC", "hash:x-custom-algo", "abc"),
]


@pytest.mark.parametrize(("alg", "value", "kind", "normal"), HASHES)
def test_hash_normal_forms(alg: str, value: str, kind: str, normal: str) -> None:
    found = ob.from_sco({"type": "file", "id": "file--x", "hashes": {alg: value}})
    assert found == [ob.Observable(kind, normal)]


SCOS = [
    ({"type": "ipv4-addr", "value": "198.51.100.0/24"}, [("ipv4", "198.51.100.0/24")]),
    ({"type": "ipv6-addr", "value": "2001:DB8::/32"}, [("ipv6", "2001:db8::/32")]),
    ({"type": "ipv4-addr", "value": "not an address"}, [("ipv4", "not an address")]),
    ({"type": "domain-name", "value": "Evil.EXAMPLE."}, [("domain", "evil.example")]),
    ({"type": "url", "value": "HXXP://not-refanged-at-ingest.example"}, [
        ("url", "hxxp://not-refanged-at-ingest.example/"),
        ("domain", "not-refanged-at-ingest.example")]),
    ({"type": "email-addr", "value": "Alice@Example.COM"}, [("email", "alice@example.com")]),
    ({"type": "mac-addr", "value": "00-1A-2B-3C-4D-5E"}, [("mac", "00:1a:2b:3c:4d:5e")]),
    ({"type": "mac-addr", "value": "001a.2b3c.4d5e"}, [("mac", "00:1a:2b:3c:4d:5e")]),
    ({"type": "autonomous-system", "number": 64500}, [("asn", "64500")]),
    ({"type": "file", "name": "Invoice.PDF.exe", "hashes": {"MD5": "AA" * 16}},
     [("file-name", "Invoice.PDF.exe"), ("hash:md5", "aa" * 16)]),
    ({"type": "artifact", "url": "https://x.example/a", "hashes": {"SHA-256": "B" * 64}},
     [("url", "https://x.example/a"), ("domain", "x.example"), ("hash:sha-256", "b" * 64)]),
    ({"type": "x509-certificate", "serial_number": "36:F7:D4:32", "hashes": {"SHA-1": "C" * 40}},
     [("x509-serial", "36f7d432"), ("hash:sha-1", "c" * 40)]),
    ({"type": "directory", "path": "C:\\Windows\\Temp"}, [("directory", "C:\\Windows\\Temp")]),
    ({"type": "mutex", "name": "Global\\EvilMutex"}, [("mutex", "Global\\EvilMutex")]),
    ({"type": "windows-registry-key", "key": "HKLM\\Software\\Run\\"},
     [("windows-registry-key", "hkey_local_machine\\software\\run")]),
    ({"type": "user-account", "account_login": "root"}, [("user-account", "root")]),
    ({"type": "software", "cpe": "cpe:2.3:a:Vendor:Product:1.0:*:*:*:*:*:*:*"},
     [("cpe", "cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:*")]),
    ({"type": "process", "pid": 4, "command_line": "evil.exe"}, []),
    ({"type": "network-traffic", "protocols": ["tcp"]}, []),
]


@pytest.mark.parametrize(("obj", "expected"), SCOS)
def test_sco_extraction(obj: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert [(o.kind, o.value) for o in ob.from_sco(obj)] == expected


def test_values_too_long_or_with_nul_are_not_indexed() -> None:
    long = ob.Observable("url", "http://x.example/" + "a" * 2000)
    nul = ob.Observable("mutex", "a\x00b")
    wide = ob.Observable("mutex", "é" * 600)  # 600 characters, 1,200 bytes
    ok = ob.Observable("mutex", "é" * 400)
    assert ob.unique([long, nul, wide, ok, ok]) == (ok,)


# -- what an analyst types -------------------------------------------------------------------
REFANG = [
    ("hxxp://evil[.]example/x", "http://evil.example/x"),
    ("hXXps[:]//evil[.]example", "https://evil.example"),
    ("hxxps[://]evil[.]example", "https://evil.example"),
    ("evil(.)example", "evil.example"),
    ("evil{.}example", "evil.example"),
    ("evil[dot]example", "evil.example"),
    ("198.51.100[.]7", "198.51.100.7"),
    ("user[@]example[.]org", "user@example.org"),
    ("user[at]example.org", "user@example.org"),
    ("fxp://files[.]example", "ftp://files.example"),
    ("evil\\.example", "evil.example"),
    ("plain.example", "plain.example"),
]


@pytest.mark.parametrize(("text", "fanged"), REFANG)
def test_refang(text: str, fanged: str) -> None:
    assert refang(text) == fanged


PROBES = [
    ("198.51.100[.]7", "ipv4", "198.51.100.7"),
    ("2001:DB8::1", "ipv6", "2001:db8::1"),
    ("10.0.0.0/8", "ipv4", "10.0.0.0/8"),
    ("hxxp://Evil[.]example", "url", "http://evil.example/"),
    ("Evil.EXAMPLE.", "domain", "evil.example"),
    ("bücher.example", "domain", "xn--bcher-kva.example"),
    ("Alice@Example.COM", "email", "alice@example.com"),
    ("00-1A-2B-3C-4D-5E", "mac", "00:1a:2b:3c:4d:5e"),
    ("AS64500", "asn", "64500"),
    ("asn 64500", "asn", "64500"),
    ("D41D8CD98F00B204E9800998ECF8427E", "hash", "d41d8cd98f00b204e9800998ecf8427e"),
    ("evil.example/path/x.php", "url", "http://evil.example/path/x.php"),
    ("Global\\EvilMutex", "value", "Global\\EvilMutex"),
]


@pytest.mark.parametrize(("text", "kind", "normal"), PROBES)
def test_probes_recognise_values(text: str, kind: str, normal: str) -> None:
    p = probe(text)
    assert (p.kind, p.normal) == (kind, normal)


def test_a_probe_also_asks_for_the_value_as_typed() -> None:
    assert probe("Invoice.PDF.exe").exact == ("invoice.pdf.exe", "Invoice.PDF.exe")
    assert set(probe("evil.example/x").exact) == {"http://evil.example/x",
                                                   "https://evil.example/x", "evil.example/x"}
    assert probe("HKLM\\Software\\Run").exact == ("HKLM\\Software\\Run",
                                                  "hkey_local_machine\\software\\run")


def test_an_explicit_kind_wins_over_the_form() -> None:
    p = probe("64500", "asn")
    assert (p.kind, p.exact, p.kinds) == ("asn", ("64500",), ("asn",))
    h = probe("ABC", "hash:SHA256")
    assert (h.exact, h.kinds) == (("abc",), ("hash:sha-256",))
    assert len(probe("abc", "hash").kinds) == 12
    assert probe("not an ip", "ipv4").kinds == ("ipv4", "ipv6")
