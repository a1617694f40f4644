"""Indicator patterns are validated at ingest (STIX 2.1 §9): invalid ones are refused."""

from __future__ import annotations

import pytest

from liaison.search.patterns import pattern_error


@pytest.mark.parametrize("pattern", [
    "[ipv4-addr:value = '198.51.100.1']",
    "[domain-name:value = 'example.com'] OR [url:value = 'http://example.com/a']",
    "[file:hashes.'SHA-256' = 'aa'] AND [file:name = 'x.exe']",
    "[ipv4-addr:value IN ('1.2.3.4', '5.6.7.8')] WITHIN 600 SECONDS",
    "[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8']",
    "([a:b = 1] FOLLOWEDBY [c:d = 2]) REPEATS 3 TIMES",
    "[file:name MATCHES '^evil.*']",
])
def test_valid_patterns_pass(pattern: str) -> None:
    assert pattern_error(pattern) is None


@pytest.mark.parametrize("pattern", [
    "[ipv4-addr:value = ",
    "ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value = '1.2.3.4'",
    "",
])
def test_invalid_patterns_are_explained(pattern: str) -> None:
    error = pattern_error(pattern)
    assert error and isinstance(error, str)


def test_an_invalid_pattern_is_a_failure_in_the_status(node_fx) -> None:  # type: ignore[no-untyped-def]
    import json

    from liaison.taxii.media import TAXII_21

    cid = node_fx.add_collection("P", "p")
    good = {"type": "indicator", "spec_version": "2.1",
            "id": "indicator--aaaaaaaa-0001-4111-8111-111111111111",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "pattern": "[ipv4-addr:value = '1.2.3.4']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z"}
    bad = dict(good, id="indicator--aaaaaaaa-0002-4111-8111-111111111111",
               pattern="[ipv4-addr:value = ")
    r = node_fx.client.post(f"/api/collections/{cid}/objects/",
                            content=json.dumps({"objects": [good, bad]}),
                            headers={**node_fx.headers(), "Content-Type": TAXII_21})
    status = r.json()
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert status["failures"][0]["id"] == bad["id"]
    assert "pattern" in status["failures"][0]["message"]
