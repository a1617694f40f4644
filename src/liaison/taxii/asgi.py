"""The ASGI factory `liaison serve --workers N` hands to uvicorn: `liaison.taxii.asgi:app`.

Each worker process imports this module and calls `app()`, which opens the node
whose home is in $LIAISON_HOME (`serve` sets it) and builds the same application as
`create_app`.  Workers share nothing but the database: cursors, status resources and
objects live there (DESIGN principle 5), so any worker answers any request.
"""

from __future__ import annotations

import atexit

from starlette.applications import Starlette

from liaison.node import Node
from liaison.runtime import tune_gc
from liaison.settings import default_home
from liaison.taxii.app import create_app


def app() -> Starlette:
    """Open the node at $LIAISON_HOME and return its ASGI application."""
    node = Node.open(default_home())
    atexit.register(node.close)
    app = create_app(node)
    tune_gc()
    return app
