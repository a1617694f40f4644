"""Shared CLI plumbing: the --home and --json options and opening the node."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from liaison.audit.context import current, set_actor
from liaison.node import Node

F = TypeVar("F", bound=Callable[..., Any])


def home_opt(fn: F) -> F:
    """Add `--home` to a command (it may also be given before the command)."""

    @click.option("--home", "cmd_home", type=click.Path(file_okay=False, path_type=Path),
                  default=None, help="The node's home folder [default: $LIAISON_HOME, else "
                  "~/.liaison].")
    @functools.wraps(fn)
    def wrapper(*args: Any, cmd_home: Path | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        if cmd_home is not None:
            ctx.find_root().obj.home = cmd_home
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


json_opt = click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document instead of prose.")


def home() -> Path:
    return click.get_current_context().find_root().obj.home  # type: ignore[no-any-return]


@contextmanager
def open_node(**overrides: Any) -> Iterator[Node]:
    node = Node.open(home(), **overrides)
    actor = current()
    if actor.kind == "cli" and not actor.org:  # the operator acts for the node's org
        set_actor(replace(actor, org=node.exchange.org_id))
    try:
        yield node
    finally:
        node.close()


def print_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
