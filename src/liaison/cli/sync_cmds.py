"""`liaison sync`, `liaison partner status`, `liaison partner set`, and the scheduler that
`liaison serve` runs in the background (docs/federation.md)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from liaison.cli.common import home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.cli.policy_cmds import partner
from liaison.exchange import Exchange
from liaison.federation.scheduler import Options, Syncer, start_background
from liaison.federation.state import RunResult, progress
from liaison.federation.status import status_rows  # noqa: F401  (re-exported)
from liaison.node import Node
from liaison.settings import Settings
from liaison.storage.base import SyncKey, SyncState

log = logging.getLogger("liaison.federation")


@contextmanager
def background_sync(conf: Settings, *, enabled: bool) -> Iterator[None]:
    """Run the scheduler beside the server (its own node handle), stop it afterwards."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     liaison sync: %(message)s"))
    log.addHandler(handler)
    node = Node.open(conf.home)
    thread, stop = start_background(node.exchange, conf)
    click.echo(f"  Sync:            every {conf.sync_interval_seconds} s (--no-sync to turn off)")
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        node.close()


class _Bars:
    """A progress bar per sync job while `liaison sync` runs in a terminal."""

    def __init__(self, exchange: Exchange, console: Console) -> None:
        self.exchange = exchange
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[moved]} moved"), TimeElapsedColumn(),
                                 console=console, transient=True)
        self.tasks: dict[SyncKey, TaskID] = {}

    def __call__(self, result: RunResult) -> None:
        key = result.job.key
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(result.job.describe(), total=1.0, moved=0)
        state = _state(self.exchange, key)
        self.progress.update(self.tasks[key], completed=progress(state) or 0.0,
                             moved=result.moved)


def _state(exchange: Exchange, key: SyncKey) -> SyncState:
    found = [s for s in exchange.store.sync_states(key.agreement_id) if s.key == key]
    return found[0] if found else SyncState(key)


@cli.command()
@home_opt
@click.option("--partner", "partner_name", default=None, help="Only this partner.")
@click.option("--once", is_flag=True, help="One pass, then exit (non-zero if a job failed).")
@click.option("--interval", type=int, default=None,
              help="Seconds between passes [default: setting 'sync_interval_seconds'].")
@json_opt
def sync(partner_name: str | None, once: bool, interval: int | None, as_json: bool) -> None:
    """Pull from and push to partners under their agreements (docs/federation.md).

    Each (agreement, collection, direction) resumes from its checkpoint; another
    process already syncing one is left alone.  Without --once, passes repeat until
    interrupted.
    """
    log.addHandler(logging.NullHandler())  # the results are printed below instead
    log.propagate = False
    with open_node() as node:
        console = Console(stderr=True)
        bars = _Bars(node.exchange, console) if console.is_terminal and not as_json else None
        syncer = Syncer(node.exchange, Options.from_settings(node.settings), on_page=bars)
        every = interval or node.settings.sync_interval_seconds
        while True:
            if bars is not None:
                with bars.progress:
                    results = syncer.run_once(partner_name)
            else:
                results = syncer.run_once(partner_name)
            _report(results, as_json)
            if once:
                if any(r.error for r in results):
                    sys.exit(1)
                return
            time.sleep(every)


def _report(results: list[RunResult], as_json: bool) -> None:
    if as_json:
        print_json([{"partner": r.job.partner.name, "agreement": r.job.agreement.id,
                     "collection": r.job.collection, "direction": r.job.direction,
                     "moved": r.moved, "refused": r.failed, "pages": r.pages,
                     "caught_up": r.caught_up, "error": r.error, "skipped": r.skipped}
                    for r in results])
        return
    if not results:
        click.echo("Nothing to sync: no active agreement with a --remote-collection, with a "
                   "partner that has a URL and a token ('liaison partner set NAME --url … "
                   "--token …').")
    for r in results:
        click.echo(r.describe())


@partner.command("set")
@home_opt
@click.argument("name")
@click.option("--url", default=None, help="The partner node's TAXII discovery or API root URL.")
@click.option("--token", default=None,
              help="The token our node calls the partner with ('user:password' for HTTP Basic).")
def partner_set(name: str, url: str | None, token: str | None) -> None:
    """Change how our node reaches partner NAME (for sync)."""
    with open_node() as node:
        p = node.exchange.partners.set_remote(name, url, token)
    click.echo(f"Partner '{name}': {p.url or '(no URL)'}, "
               f"{'a token is set' if p.remote_token else 'no token'}.")


def _bar(fraction: float, width: int = 24) -> str:
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction * 100:5.1f}%"


def render_status(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No agreements yet — see 'liaison agreement add'."
    lines = []
    for r in rows:
        head = f"{r['partner']}  {r['direction']:<4} {r['collection']}  (agreement {r['agreement']})"
        lines.append(head)
        if r["note"]:
            lines.append(f"    not synced: {r['note']}")
        lag = "—" if r["lag_seconds"] is None else f"{r['lag_seconds']} s"
        lines.append(f"    last success: {r['_success_ago']}   moved: {r['objects_moved']}   "
                     f"refused: {r['refused']}   lag: {lag}")
        if r["running"]:
            frac = r["progress"]
            lines.append("    syncing now " + (_bar(frac) if frac is not None else "(starting)"))
        if r["last_error"]:
            lines.append(f"    last error ({r['last_error_at']}): {r['last_error']}")
        for f in r["recent_failures"]:
            lines.append(f"    refused {f['id']} {f['version']}: {f['message']}")
    return "\n".join(lines)


@partner.command("status")
@home_opt
@click.argument("name", required=False)
@click.option("--watch", is_flag=True, help="Refresh every second until interrupted.")
@json_opt
def partner_status(name: str | None, watch: bool, as_json: bool) -> None:
    """Per agreement: last successful sync, objects moved, lag, last error, progress."""
    with open_node() as node:
        rows = status_rows(node.exchange, name)
        if as_json:
            print_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
            return
        if not watch:
            click.echo(render_status(rows))
            return
        stop = threading.Event()
        with Live(render_status(rows), refresh_per_second=2) as live:
            try:
                while not stop.wait(1.0):
                    live.update(render_status(status_rows(node.exchange, name)))
            except KeyboardInterrupt:
                pass

