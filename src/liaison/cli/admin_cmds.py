"""`liaison user …`, `liaison collection …`, `liaison grant` and `liaison revoke-grant`."""

from __future__ import annotations

import click

from liaison.cli.common import home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage.base import ROLES


@cli.group()
def user() -> None:
    """Local users: add, list, revoke.  Tokens are shown once and stored hashed."""


@user.command("add")
@home_opt
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="analyst", show_default=True,
              help="admin: everything; analyst: read/write where granted; reader: read only.")
@json_opt
def user_add(name: str, role: str, as_json: bool) -> None:
    """Add a user NAME and print its token (once)."""
    with open_node() as node:
        cred = node.exchange.admin.add_user(name, role)
    if as_json:
        print_json({"name": name, "role": role, "id": cred.principal.id, "token": cred.token})
        return
    click.echo(f"Added {role} '{name}'.")
    click.echo(f"  token: {cred.token}")
    click.echo("Keep it now: it is shown only once.  TAXII clients use HTTP Basic with the "
               "user name and this token as password, or 'Authorization: Bearer <token>'.")


@user.command("list")
@home_opt
@json_opt
def user_list(as_json: bool) -> None:
    """List users and partner principals."""
    with open_node() as node:
        people = node.exchange.admin.users()
    rows = [{"name": p.name, "kind": p.kind, "role": p.role, "id": p.id,
             "created": format_taxii_timestamp(p.created_at),
             "revoked": format_taxii_timestamp(p.revoked_at) if p.revoked_at else None}
            for p in people]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        state = f"revoked {r['revoked']}" if r["revoked"] else "active"
        click.echo(f"{r['name']:<24} {r['kind']:<8} {r['role']:<8} {state}")


@user.command("revoke")
@home_opt
@click.argument("name")
@json_opt
def user_revoke(name: str, as_json: bool) -> None:
    """Revoke user NAME: its token stops working on the next request."""
    with open_node() as node:
        p = node.exchange.admin.revoke_user(name)
    if as_json:
        print_json({"name": p.name, "id": p.id,
                    "revoked": format_taxii_timestamp(p.revoked_at) if p.revoked_at else None})
        return
    click.echo(f"Revoked '{name}'.")


@cli.group()
def collection() -> None:
    """TAXII collections: add and list.  Name one by id or alias anywhere."""


@collection.command("add")
@home_opt
@click.argument("title")
@click.option("--alias", default=None, help="Short unique name, e.g. border-security.")
@click.option("--description", default=None, help="What the collection holds.")
@json_opt
def collection_add(title: str, alias: str | None, description: str | None, as_json: bool) -> None:
    """Add a collection called TITLE and print its id."""
    with open_node() as node:
        c = node.exchange.admin.add_collection(title, alias, description)
    if as_json:
        print_json({"id": c.id, "title": c.title, "alias": c.alias,
                    "description": c.description})
        return
    click.echo(c.id)


@collection.command("list")
@home_opt
@json_opt
def collection_list(as_json: bool) -> None:
    """List collections with their object counts."""
    with open_node() as node:
        items = node.exchange.admin.collections()
    rows = [{"id": c.id, "title": c.title, "alias": c.alias, "description": c.description,
             "objects": n} for c, n in items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No collections yet — add one with 'liaison collection add TITLE'.")
    for r in rows:
        click.echo(f"{r['id']}  {r['alias'] or '-':<20} {r['objects']:>8} objects  {r['title']}")


@cli.command()
@home_opt
@click.argument("collection_ref", metavar="COLLECTION")
@click.argument("principal", metavar="PRINCIPAL")
@click.option("--read", is_flag=True, help="Allow reading objects.")
@click.option("--write", is_flag=True, help="Allow adding (and, with --read, deleting) objects.")
@json_opt
def grant(collection_ref: str, principal: str, read: bool, write: bool, as_json: bool) -> None:
    """Let PRINCIPAL read and/or write COLLECTION (id or alias)."""
    with open_node() as node:
        c, p = node.exchange.admin.grant(collection_ref, principal, read=read, write=write)
    if as_json:
        print_json({"collection": c.id, "principal": p.name, "read": read, "write": write})
        return
    rights = " and ".join(x for x, on in (("read", read), ("write", write)) if on)
    click.echo(f"'{p.name}' may now {rights} '{c.alias or c.title}' ({c.id}).")


@cli.command("revoke-grant")
@home_opt
@click.argument("collection_ref", metavar="COLLECTION")
@click.argument("principal", metavar="PRINCIPAL")
@json_opt
def revoke_grant(collection_ref: str, principal: str, as_json: bool) -> None:
    """Remove PRINCIPAL's rights on COLLECTION."""
    with open_node() as node:
        c, p = node.exchange.admin.revoke_grant(collection_ref, principal)
    if as_json:
        print_json({"collection": c.id, "principal": p.name, "read": False, "write": False})
        return
    click.echo(f"'{p.name}' no longer has access to '{c.alias or c.title}'.")
