"""Numbered schema migrations, one folder per engine, recorded in the database.

Files are `NNNN_name.sql` under `migrations/<engine>/`.  Applied versions live in
`schema_migrations`; `pending()` is the read-only "what would run" answer that
`liaison db upgrade --plan` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available(engine: str) -> list[Migration]:
    """Every migration shipped for `engine`, in order."""
    folder = resources.files(__package__).joinpath(engine)
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda mig: mig.version)


def pending(engine: str, applied: set[int]) -> list[Migration]:
    """The migrations that `upgrade` would apply, in order."""
    return [m for m in available(engine) if m.version not in applied]


_TRIGGER = re.compile(r"CREATE\s+TRIGGER\b", re.I)


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements (no semicolons inside our literals; a
    `CREATE TRIGGER … BEGIN …; END` is one statement)."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    out: list[str] = []
    trigger: list[str] = []
    for piece in (s.strip() for s in "\n".join(lines).split(";")):
        if trigger:
            trigger.append(piece)
            if piece.upper() == "END":
                out.append(";\n".join(trigger))
                trigger = []
        elif _TRIGGER.match(piece):
            trigger.append(piece)
        elif piece:
            out.append(piece)
    if trigger:
        raise ValueError("a CREATE TRIGGER without its END")
    return out
