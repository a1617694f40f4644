"""`liaison import` and `liaison export`: STIX bundles in and out, streamed."""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from liaison.cli.common import home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.errors import BadRequest
from liaison.ingest.stix_bundle import BundleError, check_file, iter_objects

BATCH = 1000


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def _check_structure(path: Path) -> int:
    """Walk the file once without storing anything; a broken file writes nothing."""
    try:
        with path.open("rb") as f:
            return check_file(f)
    except BundleError as exc:
        raise BadRequest(f"{path} is not a STIX bundle or TAXII envelope: "
                         f"{exc.message}") from None


def _batches(f: BinaryIO, progress: Progress, task: object) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for raw in iter_objects(f, progress=lambda n: progress.advance(task, n)):  # type: ignore[arg-type]
        batch.append(raw)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@cli.command("import")
@home_opt
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collection", "collection_ref", required=True,
              help="Collection (id or alias) to store the objects in.")
@json_opt
def import_cmd(files: tuple[Path, ...], collection_ref: str, as_json: bool) -> None:
    """Import STIX 2.1 bundles or TAXII envelopes (any size, streamed) into a collection."""
    console = Console(stderr=True)
    totals: Counter[str] = Counter()
    reasons: list[dict[str, str]] = []
    with open_node() as node:
        target = node.exchange.admin.collection(collection_ref)
        for path in files:
            _check_structure(path)
        for path in files:
            with path.open("rb") as f, _progress(console) as progress:
                task = progress.add_task(f"importing {path.name}", total=path.stat().st_size)
                for batch in _batches(f, progress, task):
                    report = node.exchange.import_objects(target, batch)
                    totals["stored"] += report.stored
                    totals["duplicate"] += report.duplicates
                    totals["rejected"] += len(report.failures)
                    reasons.extend({"file": str(path), "id": r.id, "reason": r.message or ""}
                                   for r in report.failures)
    summary = {"collection": target.id, "stored": totals["stored"],
               "duplicate": totals["duplicate"], "rejected": totals["rejected"],
               "rejections": reasons}
    if as_json:
        print_json(summary)
        return
    click.echo(f"Imported into '{target.alias or target.title}': {totals['stored']} stored, "
               f"{totals['duplicate']} duplicate, {totals['rejected']} rejected.")
    for r in reasons[:20]:
        click.echo(f"  rejected {r['id']}: {r['reason']}")
    if len(reasons) > 20:
        click.echo(f"  … and {len(reasons) - 20} more (use --json for all)")


@cli.command("export")
@home_opt
@click.option("--collection", "collection_ref", required=True,
              help="Collection (id or alias) to export.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the bundle here [default: standard output].")
@click.option("--as-partner", "partner", default=None,
              help="Only what this partner's agreements release right now.")
def export_cmd(collection_ref: str, out: Path | None, partner: str | None) -> None:
    """Write the latest version of every object as one STIX 2.1 bundle (streamed)."""
    with open_node() as node:
        target = node.exchange.admin.collection(collection_ref)
        stream = out.open("wb") if out else sys.stdout.buffer
        try:
            count = _write_bundle(stream, node.exchange.export(target, partner=partner))
        finally:
            if out:
                stream.close()
    if out:
        click.echo(f"Exported {count} objects from '{target.alias or target.title}' to {out}.",
                   err=True)


def _write_bundle(stream: BinaryIO, bodies: Iterator[bytes]) -> int:
    """A bundle (STIX §8); with no objects the `objects` key is omitted (no empty lists)."""
    stream.write(b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'"')
    count = 0
    for body in bodies:
        stream.write(b',"objects":[' if count == 0 else b",")
        stream.write(body)
        count += 1
    stream.write(b"]}\n" if count else b"}\n")
    stream.flush()
    return count
