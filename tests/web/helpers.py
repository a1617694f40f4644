"""Helpers for the web UI tests: signing in through the form, CSRF tokens from pages,
the items a page shows (its `data-item` attributes) and those of its JSON twin."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ITEM = re.compile(r'data-item="([^"]*)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, token: str) -> Any:
    """Sign in through the form (as a browser does); return the response."""
    client.cookies.clear()
    form = client.get("/ui/login")
    return client.post("/ui/login", data={"name": name, "token": token,
                                          "csrf_token": csrf_of(form.text)},
                       follow_redirects=False)


def items_of(page: str) -> list[str]:
    """The items a page shows, in order (rows, cards: their `data-item`)."""
    return [html.unescape(v) for v in _ITEM.findall(page)]


def twin(client: TestClient, url: str) -> Any:
    sep = "&" if "?" in url else "?"
    resp = client.get(url + sep + "format=json")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()


def dashboard_items(m: dict[str, Any]) -> list[str]:
    return ([c["id"] for c in m["collections"]] + [r["id"] for r in m["recent"]]
            + [p["partner"] for p in m["partners"]] + [str(e["seq"]) for e in m.get("audit", [])])


def detail_items(m: dict[str, Any]) -> list[str]:
    return ([r["other"] for r in m["relationships"]] + [v["version"] for v in m["versions"]]
            + [o["id"] for r in m["related"] for o in r["objects"]]
            + [p["version"] for p in m["provenance"]]
            + [str(r["seq"]) for r in m.get("received", [])]
            + [x["partner"] for x in m.get("explanations", [])])


def partners_items(m: dict[str, Any]) -> list[str]:
    return ([p["name"] for p in m["partners"]] + [a["id"] for a in m["agreements"]]
            + [f"{s['agreement']}/{s['collection']}/{s['direction']}" for s in m["status"]])
