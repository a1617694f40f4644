"""`liaison demo`: two nodes on 127.0.0.1, a bilateral agreement, one sync, an account."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import click

from liaison.cli.common import print_json
from liaison.cli.main import cli
from liaison.errors import Conflict


@cli.command()
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to create the two node homes [default: a new temporary folder, "
              "removed on exit].")
@click.option("--once", is_flag=True, help="Exit after the account instead of serving on.")
@click.option("--interval", type=int, default=10, show_default=True,
              help="Seconds between sync passes while the demo keeps running.")
@click.option("--json", "as_json", is_flag=True, help="Print the account as one JSON document.")
def demo(root: Path | None, once: bool, interval: int, as_json: bool) -> None:
    """Two defence ministries (Astana, Kabul) share border-security intelligence.

    Starts two nodes on 127.0.0.1, creates both organisations, a bilateral agreement
    (up to TLP:AMBER on 'border-security'), loads fictional sample intelligence at mixed
    markings, runs a sync and prints what flowed, what was withheld and why.  The
    nodes then keep running (syncing every --interval seconds) until interrupted.
    """
    from liaison.demo import runner

    made = root is None
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="liaison-demo-"))
    elif any(root.exists() and (root / n).exists() for n in runner.NAMES):
        raise Conflict(f"{root} already holds a demo — choose another --dir or remove it")
    nodes = {}
    try:
        nodes = runner.start(root)
        lines = runner.sync(nodes)
        flows = runner.account(nodes)
        if as_json:
            print_json({"sync": lines, "flows": flows,
                        "nodes": {n.name: {"url": n.url, "home": str(n.home),
                                           "admin_token": n.admin_token} for n in nodes.values()}})
        else:
            click.echo(runner.render(flows, lines))
        if once:
            return
        click.echo("\nBoth nodes keep running (Ctrl-C stops them):")
        for n in nodes.values():
            click.echo(f"  {n.name:<7} {n.url}  home {n.home}\n          admin token {n.admin_token}"
                       f"  (e.g. 'liaison --home {n.home} partner status')")
        stop = threading.Event()
        try:
            while not stop.wait(interval):
                runner.sync(nodes)
        except KeyboardInterrupt:
            click.echo("stopping")
    finally:
        for n in nodes.values():
            n.stop()
        if made:
            shutil.rmtree(root, ignore_errors=True)
