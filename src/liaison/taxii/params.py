"""URL query parameters of the TAXII 2.1 read endpoints (§3.4, §3.4.1).

Every malformed parameter is a 400 (§3.4 MUST).  Unknown `match[...]` fields and
unknown parameters are ignored (§3.4 MAY), as are filters an endpoint does not take.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from liaison.errors import BadRequest
from liaison.exchange import Filters
from liaison.stix.ids import check_id, check_type_name
from liaison.stix.timestamps import parse_taxii_timestamp
from liaison.storage.base import VersionFilter

MAX_VALUES = 10_000
_DIGITS = re.compile(r"[0-9]+")
_SPEC_VERSION = re.compile(r"[0-9]+\.[0-9]+")
HUGE_LIMIT = 10**18
"""Any larger `limit` is read as this: the server caps it anyway (§3.4: a server MAY
return fewer items than asked), so a huge limit is not malformed."""
SINGLE = ("added_after", "limit", "next")


def _values(name: str, raw: str) -> list[str]:
    values = raw.split(",")
    if any(not v for v in values):
        raise BadRequest(f"{name} has an empty value: separate values with single commas")
    if len(values) > MAX_VALUES:
        raise BadRequest(f"{name} lists more than {MAX_VALUES} values")
    if len(set(values)) != len(values):
        raise BadRequest(f"{name} repeats a value")
    return values


def _versions(raw: str) -> VersionFilter:
    values = _values("match[version]", raw)
    if "all" in values:
        if len(values) > 1:
            raise BadRequest("match[version]=all cannot be combined with other values")
        return VersionFilter.everything()
    exact = []
    for v in values:
        if v in ("first", "last"):
            continue
        try:
            exact.append(parse_taxii_timestamp(v))
        except ValueError as exc:
            raise BadRequest(f"match[version] value {v!r} is not first, last, all or a "
                             f"timestamp: {exc}") from None
    return VersionFilter(first="first" in values, last="last" in values, exact=tuple(exact))


def parse_filters(items: Iterable[tuple[str, str]], *, allowed: frozenset[str]) -> Filters:
    """Build `Filters` from the (name, value) pairs of a query string.

    `allowed` names the filters the endpoint takes (e.g. "match[id]"); others are
    ignored after their form is checked.
    """
    seen: dict[str, str] = {}
    for name, value in items:
        if name in seen:
            raise BadRequest(f"the parameter {name} is given more than once")
        seen[name] = value
    kw: dict[str, object] = {}
    if "added_after" in seen:
        try:
            kw["added_after"] = parse_taxii_timestamp(seen["added_after"])
        except ValueError as exc:
            raise BadRequest(f"added_after is not a TAXII timestamp: {exc}") from None
    if "limit" in seen:
        raw = seen["limit"]
        if not _DIGITS.fullmatch(raw) or not raw.strip("0"):
            raise BadRequest("limit must be a whole number greater than 0")
        digits = raw.lstrip("0")
        kw["limit"] = int(digits) if len(digits) <= 18 else HUGE_LIMIT
    if "next" in seen:
        if not seen["next"]:
            raise BadRequest("next is empty")
        kw["next"] = seen["next"]
    if "match[id]" in seen:
        ids = _values("match[id]", seen["match[id]"])
        for i in ids:
            try:
                check_id(i)
            except ValueError as exc:
                raise BadRequest(f"match[id] value {i!r} is not a STIX id: {exc}") from None
        kw["ids"] = tuple(ids)
    if "match[type]" in seen:
        types = _values("match[type]", seen["match[type]"])
        for t in types:
            try:
                check_type_name(t)
            except ValueError as exc:
                raise BadRequest(f"match[type] value {t!r} is not a STIX type: {exc}") from None
        kw["types"] = tuple(types)
    if "match[version]" in seen:
        kw["versions"] = _versions(seen["match[version]"])
    if "match[spec_version]" in seen:
        specs = _values("match[spec_version]", seen["match[spec_version]"])
        for s in specs:
            if not _SPEC_VERSION.fullmatch(s):
                raise BadRequest(f"match[spec_version] value {s!r} is not a version like 2.1")
        kw["spec_versions"] = tuple(specs)
    field_of = {"match[id]": "ids", "match[type]": "types", "match[version]": "versions",
                "match[spec_version]": "spec_versions"}
    for param, attr in field_of.items():
        if param not in allowed:
            kw.pop(attr, None)
    return Filters(**kw)  # type: ignore[arg-type]
