"""`liaison init`, `liaison serve`, `liaison db …` and `liaison settings`."""

from __future__ import annotations

import click

from liaison.cli.common import home, home_opt, json_opt, print_json
from liaison.errors import ConfigError
from liaison.cli.main import cli
from liaison.node import Node, init_node, upgrade
from liaison.settings import SETTINGS, database_url, load
from liaison.storage import migrations, open_store


@cli.command()
@home_opt
@click.option("--org", default="Example Organisation", show_default=True,
              help="Name of the organisation that runs this node (its STIX identity).")
@click.option("--db", "database", default=None,
              help="Database URL: 'sqlite:PATH' (default: sqlite:liaison.db in the home) or "
              "'postgresql://…'.")
@click.option("--force", is_flag=True, help="Destroy an existing node at this home first.")
@json_opt
def init(org: str, database: str | None, force: bool, as_json: bool) -> None:
    """Create a node: settings, database, organisation identity and an admin.

    The admin's token is printed once; only its hash is stored.
    """
    result = init_node(home(), org, force=force, database=database)
    if as_json:
        print_json({"home": str(result.home), "org_identity": result.org_identity,
                    "admin": {"name": result.admin_name, "token": result.admin_token}})
        return
    click.echo(f"Created a Liaison node for {org} at {result.home}")
    click.echo(f"  organisation identity: {result.org_identity['id']}")
    click.echo(f"  admin user:            {result.admin_name}")
    click.echo(f"  admin token:           {result.admin_token}")
    click.echo("Keep the token now: it is shown only once.  Next: 'liaison serve'.")


@cli.command()
@home_opt
@click.option("--host", default=None, help="Address to listen on [default: setting 'host'].")
@click.option("--port", type=int, default=None, help="Port [default: setting 'port'].")
@click.option("--workers", type=int, default=None,
              help="Server processes on this port [default: setting 'workers', 1].  On "
              "PostgreSQL use as many as the machine has cores; on SQLite they share one "
              "writer (see README, 'Running at scale').")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--no-sync", is_flag=True,
              help="Do not run the federation scheduler (setting 'sync_interval_seconds').")
def serve(host: str | None, port: int | None, workers: int | None, log_level: str,
          no_sync: bool = False) -> None:
    """Serve the node's TAXII 2.1 API (and web UI) until interrupted.

    Refuses to start on a database whose schema needs 'liaison db upgrade'.
    """
    import os

    import uvicorn

    from liaison.cli.sync_cmds import background_sync
    from liaison.runtime import tune_gc
    from liaison.taxii.app import create_app

    node = Node.open(home(), host=host, port=port, workers=workers)
    conf = node.settings
    click.echo(f"Liaison node of {node.org_identity().get('name')} "
               f"({node.store.engine}, home {conf.home}"
               + (f", {conf.workers} workers" if conf.workers > 1 else "") + ")")
    click.echo(f"  TAXII discovery: http://{conf.host}:{conf.port}/taxii2/")
    click.echo(f"  API root:        http://{conf.host}:{conf.port}/{conf.api_root}/")
    click.echo(f"  Web UI:          http://{conf.host}:{conf.port}/ui/")
    for name, what in (("audit", "the audit log"), ("search_index", "the search index")):
        if not getattr(conf, name):
            click.echo(f"  WARNING: {what} is switched off (setting {name}); "
                       "use this only to measure what it costs", err=True)
    options = dict(host=conf.host, port=conf.port, log_level=log_level,
                   access_log=log_level == "debug", server_header=False)
    if conf.workers > 1:
        # Each worker opens the node itself (liaison.taxii.asgi); they share the database.
        node.close()
        os.environ["LIAISON_HOME"] = str(conf.home)
        with background_sync(conf, enabled=not no_sync):
            uvicorn.run("liaison.taxii.asgi:app", factory=True, workers=conf.workers, **options)
        return
    try:
        with background_sync(conf, enabled=not no_sync):
            app = create_app(node)
            tune_gc()
            uvicorn.run(app, **options)
    finally:
        node.close()


@cli.group()
def db() -> None:
    """Database schema: show and apply migrations."""


@db.command("upgrade")
@home_opt
@click.option("--plan", is_flag=True, help="Only show what would run; change nothing.")
def db_upgrade(plan: bool) -> None:
    """Apply pending schema migrations (or list them with --plan)."""
    store = open_store(database_url(load(home())))
    try:
        todo = migrations.pending(store.engine, store.applied_migrations())
        if plan:
            if not todo:
                click.echo("The database is up to date.")
            for m in todo:
                click.echo(f"would apply {m.version:04d} {m.name}")
            return
        done = upgrade(store)
        click.echo(f"Applied {len(done)} migration(s)." if done else "The database is up to date.")
    finally:
        store.close()


@cli.command("settings")
@home_opt
@click.option("--markdown", is_flag=True, help="Print the settings reference as a Markdown table.")
def settings_cmd(markdown: bool) -> None:
    """List every setting: name, value (or default), environment variable, meaning."""
    if markdown:
        click.echo("| setting | environment | default | meaning |\n|---|---|---|---|")
        for s in SETTINGS:
            default = str(s.default).lower() if s.type is bool else s.default
            click.echo(f"| `{s.name}` | `{s.env}` | `{default}` | {s.help} |")
        return
    try:
        values = load(home()).values
    except ConfigError:  # no node yet: show the defaults
        values = {s.name: s.default for s in SETTINGS}
    for s in SETTINGS:
        value = values[s.name]
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        click.echo(f"{s.name} = {shown}    (${s.env})\n    {s.help}")




@cli.command()
@home_opt
@click.option("--org", default="Example Organisation", show_default=True,
              help="Organisation name, used only when the node is created.")
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: 8000].")
@click.pass_context
def up(ctx: click.Context, org: str, host: str | None, port: int | None) -> None:
    """Create the node if there is none (with a 'default' collection), then serve it.

    On creation the admin token is printed once, as by 'liaison init'.
    """
    from liaison.settings import SETTINGS_FILE

    if (home() / SETTINGS_FILE).exists():
        click.echo(f"Using the existing node at {home()} (its admin token was printed when it "
                   "was created; 'liaison user add NAME --role admin' makes another).")
    else:
        ctx.invoke(init, org=org, database=None, force=False, as_json=False)
        node = Node.open(home())
        try:
            c = node.exchange.admin.add_collection("Default", "default",
                                                    "Created by 'liaison up'")
        finally:
            node.close()
        click.echo(f"Created collection 'default' ({c.id}).")
    ctx.invoke(serve, host=host, port=port, log_level="info", no_sync=False)
