"""The layering of DESIGN.md holds: imports point down, and each concern stays in its layer.

- nothing but `liaison.storage` imports a database driver (only storage knows SQL);
- nothing but the faces (`taxii`, `api`, `web`) imports Starlette (only they know HTTP);
- nothing but `liaison.cli` imports click (only the CLI knows the terminal);
- `liaison.stix` imports nothing of ours; `liaison.storage` imports no domain or face;
- the domain (`exchange` and what it uses) imports no face.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "liaison"
FACES = ("liaison.taxii", "liaison.api", "liaison.web", "liaison.cli")
DOMAIN = ("liaison.exchange", "liaison.admin", "liaison.partners", "liaison.access",
          "liaison.writes", "liaison.explain")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside a package
                base = module.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                found.add(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                found.add(node.module)
    return found


MODULES = _modules()


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_module_respects_the_layers(module: str, path: Path) -> None:
    imports = _imports(path, module)
    ours = {i for i in imports if i.startswith("liaison")}
    if not module.startswith("liaison.storage"):
        assert not {i for i in imports if _under(i, ("sqlite3", "psycopg", "psycopg_pool"))}, \
            f"{module} talks to a database directly: only liaison.storage may"
    if not _under(module, ("liaison.taxii", "liaison.api", "liaison.web")):
        assert not {i for i in imports if _under(i, ("starlette", "uvicorn"))} - (
            {"uvicorn"} if module.startswith("liaison.cli") else set()), \
            f"{module} knows HTTP serving: only the faces may"
    if not module.startswith("liaison.cli"):
        assert not {i for i in imports if _under(i, ("click", "rich"))}, \
            f"{module} knows the terminal: only liaison.cli may"
    if module.startswith("liaison.stix"):
        assert all(i.startswith("liaison.stix") for i in ours), f"{module} imports {ours}"
    if module.startswith("liaison.storage"):
        bad = {i for i in ours if _under(i, FACES + DOMAIN + ("liaison.federation",))}
        assert not bad, f"storage module {module} imports {bad}"
    if _under(module, DOMAIN) or module.startswith(("liaison.policy", "liaison.audit")):
        bad = {i for i in ours if _under(i, FACES)}
        assert not bad, f"domain module {module} imports the faces {bad}"


def test_the_walk_sees_the_whole_package() -> None:
    names = {m for m, _ in MODULES}
    assert {"liaison.exchange", "liaison.storage.sqlite", "liaison.taxii.app",
            "liaison.cli.main", "liaison.stix.validate"} <= names
