"""STIX objects for people: titles, TLP, properties, differences between versions.

Pure functions over parsed objects (dicts); no I/O.  What they return is plain data
(the pages' view models are JSON twins), rendered by the templates.
"""

from __future__ import annotations

from typing import Any

import orjson

from liaison.stix.markings import tlp_level_of_marking

TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")
TLP_RANK_NAMES = {n: level for n, level in enumerate(TLP_ORDER)}

_SKIP_IN_TABLE = {"type", "id", "spec_version", "object_marking_refs", "granular_markings",
                  "name", "description", "extensions"}
_TIME_KEYS = {"created", "modified", "valid_from", "valid_until", "first_seen", "last_seen",
              "first_observed", "last_observed", "published", "start_time", "stop_time"}
_FIRST = ("created", "modified", "created_by_ref", "confidence", "labels", "revoked",
          "relationship_type", "source_ref", "target_ref", "pattern", "pattern_type",
          "valid_from", "valid_until", "indicator_types", "malware_types", "is_family",
          "aliases", "first_seen", "last_seen", "value", "hashes", "kill_chain_phases",
          "external_references")
MAX_TEXT = 4000


def parse(body: bytes) -> dict[str, Any]:
    """A stored object's canonical bytes as a dict (stored bytes are always valid)."""
    obj = orjson.loads(body)
    return obj if isinstance(obj, dict) else {}


def tlp_of(obj: dict[str, Any]) -> str | None:
    """The object's TLP 2.0 level from its object markings (most restrictive), or None."""
    levels = [tlp_level_of_marking(m) for m in obj.get("object_marking_refs") or []
              if isinstance(m, str)]
    found = [lv for lv in levels if lv is not None]
    return max(found, key=TLP_ORDER.index) if found else None


def short_id(stix_id: str) -> str:
    kind, _, uid = stix_id.partition("--")
    return f"{kind}--{uid[:8]}…" if len(uid) > 8 else stix_id


def title_of(obj: dict[str, Any]) -> str:
    """A human name: name, value, relationship sentence, pattern, else a short id."""
    for key in ("name", "value", "display_name", "path", "key", "user_id", "number"):
        v = obj.get(key)
        if isinstance(v, (str, int)) and str(v).strip():
            return str(v)[:200]
    t = obj.get("type", "")
    if t == "relationship":
        return (f"{short_id(str(obj.get('source_ref', '?')))} "
                f"{obj.get('relationship_type', 'related-to')} "
                f"{short_id(str(obj.get('target_ref', '?')))}")
    if t == "sighting":
        return f"sighting of {short_id(str(obj.get('sighting_of_ref', '?')))}"
    if t == "file":
        hashes = obj.get("hashes") or {}
        if isinstance(hashes, dict) and hashes:
            return str(next(iter(hashes.values())))[:200]
    if isinstance(obj.get("pattern"), str):
        return obj["pattern"][:200]
    return short_id(str(obj.get("id", "")))


def version_of(obj: dict[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created") or "")


def ends_of(obj: dict[str, Any]) -> tuple[str, str, str] | None:
    """(source, verb, target) of a relationship or sighting, else None."""
    t = obj.get("type")
    if t == "relationship":
        src, dst = obj.get("source_ref"), obj.get("target_ref")
        verb = str(obj.get("relationship_type", "related-to"))
    elif t == "sighting":
        src, verb, dst = "", "sighting of", obj.get("sighting_of_ref")
    else:
        return None
    return (src, verb, dst) if isinstance(src, str) and isinstance(dst, str) else None


def summary(obj: dict[str, Any], collection: str) -> dict[str, Any]:
    """What a listing row shows of an object (the `items` of page models)."""
    row = {"id": obj.get("id"), "type": obj.get("type"), "title": title_of(obj),
           "collection": collection, "version": version_of(obj), "tlp": tlp_of(obj),
           "markings": [m for m in obj.get("object_marking_refs") or []
                        if isinstance(m, str)],
           "labels": [x for x in obj.get("labels") or [] if isinstance(x, str)][:6],
           "revoked": bool(obj.get("revoked")), "tlp_default": False, "origin": None,
           "added": None}
    ends = ends_of(obj)
    if ends is not None:
        row["ends"] = list(ends)
    return row


def refs_of(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, id) of every embedded reference (`*_ref`, `*_refs`), top level only."""
    out: list[tuple[str, str]] = []
    for key, value in obj.items():
        if key == "object_marking_refs":
            continue
        if key.endswith("_ref") and isinstance(value, str) and "--" in value:
            out.append((key, value))
        elif key.endswith("_refs") and isinstance(value, list):
            out.extend((key, v) for v in value if isinstance(v, str) and "--" in v)
    return out


def _value(key: str, value: Any) -> dict[str, Any]:
    """One property value as a typed display item."""
    if key.endswith("_ref") and isinstance(value, str):
        return {"kind": "ref", "value": value}
    if key.endswith("_refs") and isinstance(value, list):
        return {"kind": "refs", "value": [str(v) for v in value]}
    if key in _TIME_KEYS and isinstance(value, str):
        return {"kind": "time", "value": value}
    if key == "pattern" and isinstance(value, str):
        return {"kind": "code", "value": value[:MAX_TEXT]}
    if key == "external_references" and isinstance(value, list):
        refs = []
        for r in value:
            if isinstance(r, dict):
                url = r.get("url")
                safe = url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
                refs.append({"source": str(r.get("source_name", "")),
                             "external_id": r.get("external_id"), "url": safe,
                             "description": r.get("description")})
        return {"kind": "extrefs", "value": refs}
    if key == "kill_chain_phases" and isinstance(value, list):
        return {"kind": "chips", "value": [f"{p.get('kill_chain_name')}: {p.get('phase_name')}"
                                            for p in value if isinstance(p, dict)]}
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return {"kind": "chips", "value": [str(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(v, (str, int, float, bool))
                                       for v in value.values()):
        return {"kind": "pairs", "value": [[str(k), str(v)] for k, v in value.items()]}
    if isinstance(value, (dict, list)):
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        return {"kind": "json", "value": text[:MAX_TEXT]}
    if isinstance(value, bool):
        return {"kind": "text", "value": "yes" if value else "no"}
    return {"kind": "text", "value": str(value)[:MAX_TEXT]}


def label(key: str) -> str:
    return key.removesuffix("_refs").removesuffix("_ref").replace("_", " ").capitalize() + (
        "s" if key.endswith("_refs") and not key.removesuffix("_refs").endswith("s") else "")


def properties(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The properties a person reads, well-known ones first, each typed for display."""
    keys = [k for k in _FIRST if k in obj] + sorted(
        k for k in obj if k not in _FIRST and k not in _SKIP_IN_TABLE)
    return [{"key": k, "label": label(k), **_value(k, obj[k])} for k in keys]


def _brief(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= 300 else text[:297] + "…"


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions, property by property (top level)."""
    out: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        if key == "modified":
            continue
        if key not in old:
            out.append({"property": key, "change": "added", "before": None,
                        "after": _brief(new[key])})
        elif key not in new:
            out.append({"property": key, "change": "removed", "before": _brief(old[key]),
                        "after": None})
        elif old[key] != new[key]:
            out.append({"property": key, "change": "changed", "before": _brief(old[key]),
                        "after": _brief(new[key])})
    return out


def versions(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions newest first, each with what changed since the one before it."""
    ordered = sorted(objs, key=version_of)
    out = []
    for n, obj in enumerate(ordered):
        changes = diff(ordered[n - 1], obj) if n else []
        out.append({"version": version_of(obj), "changes": changes, "first": n == 0,
                    "revoked": bool(obj.get("revoked"))})
    return list(reversed(out))


def pretty(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
