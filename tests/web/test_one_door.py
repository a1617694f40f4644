"""The web face reads and writes only through the exchange (DESIGN: one door)."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "src" / "liaison" / "web"
ENGINES = ("liaison.storage.sqlite", "liaison.storage.postgres", "liaison.storage.sql",
           "liaison.storage.search_sql", "liaison.storage.registry", "liaison.storage.versions")


def _modules() -> list[Path]:
    return sorted(WEB.rglob("*.py"))


def test_the_web_never_imports_a_storage_engine() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(ENGINES), f"{path.name} imports {name}"


def test_the_web_never_calls_the_store_through_the_exchange() -> None:
    for path in _modules():
        text = path.read_text("utf-8")
        assert "exchange.store" not in text, f"{path.name} reaches past the exchange"


def test_modules_stay_small() -> None:
    for path in _modules():
        assert len(path.read_text("utf-8").splitlines()) <= 400, path.name
