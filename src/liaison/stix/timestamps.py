"""STIX and TAXII timestamps as integer microseconds since the Unix epoch.

STIX 2.1 §2.16 (timestamp): an RFC 3339 ``date-time`` that MUST be in UTC and
MUST use the ``Z`` designator, ``YYYY-MM-DDTHH:MM:SS[.s+]Z`` with uppercase
``T`` and ``Z``; sub-second digits are optional.  STIX §3.2 asks for at least
millisecond precision on ``created``/``modified``.  TAXII 2.1 §2 (timestamp)
uses the same form and says servers represent ``date_added`` etc. with
exactly six fractional digits (microseconds); ``added_after`` (TAXII §3.4.1)
takes any such timestamp.

The node stores every timestamp as an ``int`` of microseconds (sortable,
engine-independent) and keeps the original text where it matters
(``StixObject.version_text``).  Sub-microsecond digits are refused unless
they are zeros, so no two distinct STIX versions collapse into one key.
Leap seconds (``23:59:60``) are refused: they have no POSIX microsecond.

Parsing is a compiled regex plus integer arithmetic (days-from-civil), with a
small cache: the same strings (``created == modified``, feed-wide
``valid_from``) recur constantly at ingest.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

__all__ = [
    "format_taxii_timestamp",
    "now_us",
    "parse_stix_timestamp",
    "parse_taxii_timestamp",
    "parse_timestamp",
]

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MIN_US = -62_135_596_800 * _US_PER_SECOND  # 0001-01-01T00:00:00Z
_MAX_US = 253_402_300_800 * _US_PER_SECOND - 1  # 9999-12-31T23:59:59.999999Z

_STRICT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z", re.ASCII)
_FRACTION_SCALE = (1, 100_000, 10_000, 1_000, 100, 10, 1)
_OFFSET = re.compile(r".*[T ][0-9:.]+[+-][0-9]{2}:?[0-9]{2}", re.ASCII)
_LONG_YEAR = re.compile(r"[+-]?[0-9]{5,}-", re.ASCII)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Inverse of :func:`_days_from_civil`."""
    z += 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _why_not(s: str) -> str:
    """Explain why ``s`` does not match the STIX/TAXII timestamp grammar."""
    if _LONG_YEAR.match(s):
        return f"timestamp {s!r} has a year with more than 4 digits (years 0001-9999 only)"
    if _OFFSET.match(s) and not s.endswith("Z"):
        return f"timestamp {s!r} must be UTC with Z (STIX §2.16), not a numeric offset"
    if s.endswith("z") or "t" in s[8:12]:
        return f"timestamp {s!r} must use uppercase 'T' and 'Z' (STIX §2.16)"
    if s and not s.endswith("Z"):
        return f"timestamp {s!r} is missing the trailing Z (must be UTC, STIX §2.16)"
    return f"timestamp {s!r} is not of the form YYYY-MM-DDTHH:MM:SS[.ffffff]Z (STIX §2.16)"


@lru_cache(maxsize=4096)
def _days(date: str) -> int:
    """Days since the epoch for a ``YYYY-MM-DD`` already matched by _STRICT.

    Raises ValueError with the end of a sentence ("has month 13 ...").
    """
    year, month, day = int(date[0:4]), int(date[5:7]), int(date[8:10])
    if year == 0:
        raise ValueError("has year 0000 (years 0001-9999 only)")
    if not 1 <= month <= 12:
        raise ValueError(f"has month {date[5:7]} out of range 01-12")
    last_day = _DAYS_IN_MONTH[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        last_day = 29
    if not 1 <= day <= last_day:
        raise ValueError(f"has day {date[8:10]} out of range for {date[:7]}")
    return _days_from_civil(year, month, day)


def _bad_time(s: str, hour: int, minute: int, second: int) -> ValueError:
    if hour > 23:
        return ValueError(f"timestamp {s!r} has hour {s[11:13]} out of range 00-23")
    if minute > 59:
        return ValueError(f"timestamp {s!r} has minute {s[14:16]} out of range 00-59")
    if second == 60:
        return ValueError(f"timestamp {s!r}: leap seconds are not supported")
    return ValueError(f"timestamp {s!r} has second {s[17:19]} out of range 00-59")


def _parse_uncached(s: str, min_fraction_digits: int) -> int:
    if _STRICT.fullmatch(s) is None:
        raise ValueError(_why_not(s))
    try:
        days = _days(s[:10])
    except ValueError as exc:
        raise ValueError(f"timestamp {s!r} {exc}") from None
    hour, minute, second = int(s[11:13]), int(s[14:16]), int(s[17:19])
    if hour > 23 or minute > 59 or second > 59:
        raise _bad_time(s, hour, minute, second)
    frac = s[20:-1]  # "" when there is no fraction
    if len(frac) > 6:
        if frac[6:].strip("0"):
            raise ValueError(
                f"timestamp {s!r}: sub-microsecond precision is not supported (at most 6 fractional digits)"
            )
        micro = int(frac[:6])
    else:
        micro = int(frac) * _FRACTION_SCALE[len(frac)] if frac else 0
    if len(frac) < min_fraction_digits:
        raise ValueError(f"timestamp {s!r} needs at least millisecond precision (STIX §3.2)")
    return (days * 86_400 + hour * 3600 + minute * 60 + second) * _US_PER_SECOND + micro


# Only ordinary-length strings are cached: a fraction may legally carry any
# number of trailing zeros, and such strings must not fill the cache.
_parse_cached = lru_cache(maxsize=8192)(_parse_uncached)
_CACHED_LENGTH = 32


def parse_timestamp(s: object) -> int:
    """Parse a STIX 2.1 §2.16 timestamp into microseconds since the epoch.

    Accepts ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (years 0001-9999, uppercase
    ``T``/``Z``).  Raises ``ValueError`` with a clear sentence otherwise.
    """
    if type(s) is not str:
        raise ValueError(f"timestamp must be a string, not {type(s).__name__}")
    if len(s) <= _CACHED_LENGTH:
        return _parse_cached(s, 0)
    return _parse_uncached(s, 0)


def parse_stix_timestamp(s: object, *, min_precision_ms: bool = False) -> int:
    """Parse a STIX ``created``/``modified``-style timestamp (STIX §3.2).

    STIX §3.2 asks producers for at least millisecond precision on
    ``created`` and ``modified``.  Real feeds send whole seconds, so by
    default the node is liberal and accepts them (decision recorded here);
    ``min_precision_ms=True`` enforces at least 3 fractional digits.
    """
    if type(s) is not str:
        raise ValueError(f"timestamp must be a string, not {type(s).__name__}")
    digits = 3 if min_precision_ms else 0
    if len(s) <= _CACHED_LENGTH:
        return _parse_cached(s, digits)
    return _parse_uncached(s, digits)


def parse_taxii_timestamp(s: object) -> int:
    """Parse a TAXII 2.1 timestamp (TAXII §2, e.g. ``added_after``, §3.4.1).

    Same grammar as :func:`parse_timestamp` (0-6 fractional digits).
    """
    return parse_timestamp(s)


def format_taxii_timestamp(us: int) -> str:
    """Format microseconds as TAXII 2.1 §2 ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Always exactly six fractional digits, as TAXII requires for
    ``date_added``, ``X-TAXII-Date-Added-First/Last`` and status timestamps.
    """
    if type(us) is not int:
        raise TypeError(f"format_taxii_timestamp expects int microseconds, not {type(us).__name__}")
    if not _MIN_US <= us <= _MAX_US:
        raise ValueError(f"{us} microseconds is outside years 0001-9999")
    days, rem = divmod(us, _US_PER_DAY)
    secs, micro = divmod(rem, _US_PER_SECOND)
    hh, rem_s = divmod(secs, 3600)
    mi, ss = divmod(rem_s, 60)
    return "%s%02d:%02d:%02d.%06dZ" % (_date_prefix(days), hh, mi, ss, micro)


@lru_cache(maxsize=4096)
def _date_prefix(days: int) -> str:
    """``YYYY-MM-DDT`` for a day number (cached: reads cluster on few days)."""
    y, mo, d = _civil_from_days(days)
    return "%04d-%02d-%02dT" % (y, mo, d)


def now_us() -> int:
    """The current time as integer microseconds since the Unix epoch."""
    return time.time_ns() // 1000
