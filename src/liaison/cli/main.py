"""The `liaison` command: a thin face over the exchange (DESIGN "one door").

Errors are sentences with an exit code (see `liaison.errors`), never tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from liaison import __version__
from liaison.audit.context import acting, cli_actor
from liaison.errors import LiaisonError
from liaison.settings import default_home


class Context:
    def __init__(self, home: Path) -> None:
        self.home = home


home_option = click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="The node's home folder [default: $LIAISON_HOME, else ~/.liaison].")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="liaison")
@home_option
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """Liaison: share STIX 2.1 intelligence with partner organisations over TAXII 2.1.

    Start with 'liaison init', add users and collections, then 'liaison serve'.
    """
    ctx.obj = Context(home or default_home())


def main() -> None:
    from liaison.cli import (  # noqa: F401
        admin_cmds, audit_cmds, data_cmds, demo_cmds, node_cmds, policy_cmds, search_cmds,
        sync_cmds)

    try:
        with acting(cli_actor()):
            cli.main(standalone_mode=False, prog_name="liaison")
    except LiaisonError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:  # a file or folder the person named cannot be used
        where = f"{exc.filename}: " if exc.filename else ""
        click.secho(f"error: {where}{exc.strerror or exc}", fg="red", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug: say so in a sentence; the traceback only on request
        if os.environ.get("LIAISON_DEBUG"):
            raise
        click.secho(f"error: unexpected {type(exc).__name__}: {exc} — this is a bug in "
                    "Liaison; run again with LIAISON_DEBUG=1 for the traceback", fg="red", err=True)
        sys.exit(70)
