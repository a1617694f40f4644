"""Fixtures of the federation tests (see helpers.py): a local node on each engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import database_for
from tests.federation.helpers import Local, make_local


@pytest.fixture
def local(engine: str, tmp_path: Path) -> Iterator[Local]:
    """Our node (SQLite or PostgreSQL, from the `engine` parameter) with a partner."""
    made = make_local(tmp_path, database=database_for(engine, tmp_path))
    yield made
    made.node.close()
