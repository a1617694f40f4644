"""Throughput of the model layer on a 1,000-indicator envelope (not a test).

Run:  .venv/bin/python tests/stix/bench_stix.py   (belongs in bench/)

Builds 1,000 python-stix2 indicators (one creator identity, a TLP marking,
labels, ~580 bytes each), then reports the best of several runs of
jiter alone (the floor), parse_json over the envelope, check_object over
its objects (id and timestamp caches cleared first, as for fresh data), and
both together.  Best of many short runs: on a shared machine the minimum is
the figure least disturbed by other load.
"""

from __future__ import annotations

import json
import sys
import timeit
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import jiter
import stix2

from liaison.stix import check_object, ids, parse_json, timestamps

N = 1000
NUMBER, REPEAT = 3, 40  # many short runs: the minimum is the least disturbed


def envelope() -> bytes:
    identity = stix2.Identity(name="ACME CERT", identity_class="organization")
    objs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(N):
            indicator = stix2.Indicator(
                name=f"bad ip {i}",
                description="Known C2 address seen in campaign",
                pattern=f"[ipv4-addr:value = '198.51.{i // 256}.{i % 256}']",
                pattern_type="stix",
                valid_from="2024-01-01T00:00:00Z",
                labels=["malicious-activity"],
                object_marking_refs=[stix2.TLP_AMBER.id],
                created_by_ref=identity.id,
            )
            objs.append(json.loads(indicator.serialize()))
    return json.dumps({"objects": objs}).encode()


def clear_caches() -> None:
    timestamps._parse_cached.cache_clear()
    ids._checked_prefix.cache_clear()


def main() -> None:
    data = envelope()
    objs = parse_json(data)["objects"]

    def check() -> None:
        clear_caches()
        for obj in objs:
            check_object(obj)

    def both() -> None:
        clear_caches()
        for obj in parse_json(data)["objects"]:
            check_object(obj)

    def bare_jiter() -> None:
        jiter.from_json(data, catch_duplicate_keys=True, allow_inf_nan=False, cache_mode="keys")

    runs = (
        ("jiter alone", bare_jiter),
        ("parse_json", lambda: parse_json(data)),
        ("check_object", check),
        ("parse + check", both),
    )
    for label, fn in runs:
        best = min(timeit.repeat(fn, number=NUMBER, repeat=REPEAT)) / NUMBER
        print(f"{label:14s} {N / best:9.0f} objects/s   ({best * 1e6 / N:.2f} us/object)")


if __name__ == "__main__":
    main()
