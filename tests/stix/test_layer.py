"""The model layer imports nothing of liaison's upper layers (DESIGN: layers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = """
import json, sys
before = set(sys.modules)
import liaison.stix, liaison.stix.catalogue, liaison.stix.markings, liaison.stix.plan
import liaison.stix.properties, liaison.stix.smo
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_stix_imports_only_stdlib_jiter_and_orjson() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC)}
    ).stdout
    loaded = json.loads(out)
    ours = sorted(m for m in loaded if m.startswith("liaison.") and not m.startswith("liaison.stix"))
    assert ours == []
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"liaison", "jiter", "orjson"}
    assert third_party == set()
