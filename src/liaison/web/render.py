"""Jinja2 templates (package data under `templates/`), autoescaped, with the filters
the pages share: TLP badges, object links, short ids, times."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from liaison.web.stixview import pretty, short_id

BASE = "/ui"

TLP_COLOURS = {"red": "#FF2B2B", "amber": "#FFC000", "amber+strict": "#FFC000",
               "green": "#33FF00", "clear": "#FFFFFF"}
"""FIRST TLP 2.0 text colours, shown on black badges."""


def object_url(stix_id: str, collection: str | None = None) -> str:
    """The page of an object: in a collection, or the finder that picks one."""
    oid = quote(stix_id, safe="")
    if collection:
        return f"{BASE}/collections/{quote(collection, safe='')}/objects/{oid}/"
    return f"{BASE}/objects/{oid}/"


def collection_url(collection: str, **query: Any) -> str:
    q = {k: v for k, v in query.items() if v not in (None, "", [])}
    return (f"{BASE}/collections/{quote(collection, safe='')}/"
            + ("?" + urlencode(q, doseq=True) if q else ""))


def tlp_class(level: str | None) -> str:
    return "tlp-" + (level or "none").replace("+", "-")


def tlp_label(level: str | None) -> str:
    return "TLP:" + level.upper() if level else "unmarked"


def when(value: Any) -> str:
    """A STIX/TAXII timestamp as 'YYYY-MM-DD HH:MM UTC' (full value in the title)."""
    if not isinstance(value, str) or len(value) < 16:
        return "" if value is None else str(value)
    return value[:10] + " " + value[11:16] + " UTC"


def ago(value: Any) -> str:
    if not isinstance(value, str):
        return "never"
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    s = int((datetime.now(timezone.utc) - then).total_seconds())
    if s < 120:
        return f"{max(s, 0)} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("liaison.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(tlp_class=tlp_class, tlp_label=tlp_label, short_id=short_id,
                       when=when, ago=ago, object_url=object_url,
                       pretty=pretty)
    env.globals.update(object_url=object_url, collection_url=collection_url, BASE=BASE,
                       TLP_COLOURS=TLP_COLOURS)
    return env
