"""`liaison audit …`: verify the chain, sign checkpoints, and ask who did or received what."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from liaison.audit.chain import AuditEntry
from liaison.audit.service import Audit, parse_since
from liaison.cli.common import home, home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.stix.timestamps import format_taxii_timestamp


def _since(value: str | None) -> int | None:
    return parse_since(value)


def _line(e: AuditEntry) -> str:
    details = orjson.dumps(e.details).decode()
    if len(details) > 120:
        details = details[:117] + "..."
    return (f"{e.seq:>6}  {format_taxii_timestamp(e.at)}  {e.actor_name:<20} {e.action:<16} "
            f"{e.result:<6} {e.target}  {details}")


@cli.group()
def audit() -> None:
    """The tamper-evident audit log: who did what, who received what."""


@audit.command("verify")
@home_opt
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint file from 'liaison audit checkpoint'; repeat for more.")
@click.option("--pubkey", default=None,
              help="Verify checkpoint signatures with this key (from 'liaison audit pubkey') "
              "instead of the node's own.")
@json_opt
def audit_verify(checkpoints: tuple[Path, ...], pubkey: str | None, as_json: bool) -> None:
    """Walk the whole chain; exit 1 at the first entry where it breaks."""
    with open_node() as node:
        report = Audit(node.store, home()).verify([p.read_bytes() for p in checkpoints], pubkey)
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        click.echo(f"OK: {report.entries} entries, chain intact up to entry {report.head_seq}.")
        for line in report.checkpoints:
            click.echo(f"  {line}")
    else:
        assert report.broken is not None
        click.secho(f"BROKEN at entry {report.broken.seq}: {report.broken.reason}", fg="red")
    if not report.ok:
        sys.exit(1)


@audit.command("checkpoint")
@home_opt
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the checkpoint here [default: standard output].")
def audit_checkpoint(out: Path | None) -> None:
    """Sign the current head of the chain; hand the file to a partner or a notary."""
    with open_node() as node:
        cp = Audit(node.store, home()).checkpoint()
    text = orjson.dumps(cp.as_dict(), option=orjson.OPT_INDENT_2).decode()
    if out:
        out.write_text(text + "\n", "utf-8")
        click.echo(f"Signed entry {cp.seq} into {out}.", err=True)
    else:
        click.echo(text)


@audit.command("pubkey")
@home_opt
def audit_pubkey() -> None:
    """Print the node's audit public key (give it with checkpoints)."""
    with open_node() as node:
        click.echo(Audit(node.store, home()).pubkey())


@audit.command("log")
@home_opt
@click.option("--since", default=None, help="Only entries from this date or UTC timestamp.")
@click.option("--actor", default=None, help="Only entries by this principal (name or id).")
@click.option("--action", default=None,
              help="Only this action (e.g. release, objects.add; 'partner.*' for a family).")
@click.option("--limit", type=int, default=100, show_default=True)
@json_opt
def audit_log(since: str | None, actor: str | None, action: str | None, limit: int,
              as_json: bool) -> None:
    """Show audit entries, oldest first."""
    with open_node() as node:
        entries = Audit(node.store, home()).log(since=_since(since), actor=actor,
                                                 action=action, limit=limit)
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    for e in entries:
        click.echo(_line(e))
    if not entries:
        click.echo("No matching entries.")


@audit.command("who-received")
@home_opt
@click.argument("object_id")
@json_opt
def audit_who_received(object_id: str, as_json: bool) -> None:
    """Every partner that received any version of OBJECT_ID: when, how, under which agreement."""
    with open_node() as node:
        rows = Audit(node.store, home()).who_received(object_id)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"No partner has received {object_id}.")
    for r in rows:
        click.echo(f"{r['at']}  {r['partner']:<16} version {r['version']}  via "
                   f"{r['channel']} ({', '.join(r['agreements'])})")


@audit.command("export")
@home_opt
@click.option("--since", default=None, help="Only entries from this date or UTC timestamp.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here [default: standard output].")
def audit_export(since: str | None, out: Path | None) -> None:
    """Export entries as JSON lines (one entry per line, with its hashes)."""
    with open_node() as node:
        stream = out.open("wb") if out else sys.stdout.buffer
        try:
            for e in Audit(node.store, home()).export(_since(since)):
                stream.write(orjson.dumps(e.as_dict()) + b"\n")
        finally:
            if out:
                stream.close()
