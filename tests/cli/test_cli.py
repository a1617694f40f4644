"""The `liaison` command, run as a real process: the admin round trip and its errors.

init → user add → collection add → grant → import → export → re-import, every `--json`
document, and the error paths (unknown collection, bad files, missing home, second
init).  A person must always get a sentence and an exit code, never a traceback.
State is checked through the node itself (`Node.open`), not only through the CLI.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest

from tests.conftest import database_for
import stix2
from stix2validator import ValidationOptions, validate_instance

from liaison.errors import Unauthenticated
from liaison.node import Node
from tests.e2e.server import liaison_exe, node_env, run_liaison

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TOKEN = re.compile(r"lsn_[A-Za-z0-9_-]{20,}")
VALIDATOR = ValidationOptions(version="2.1")

# Exit codes of liaison.errors: a person's scripts may rely on them.
EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_CONFIG = 2, 4, 5, 6


# -- running the command --------------------------------------------------------------------

def liaison(*args: str, home: Path | None = None, ok: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `liaison ARGS [--home HOME]`; never a traceback; exit 0 unless `ok=False`."""
    argv = [*args, "--home", str(home)] if home is not None else list(args)
    result = run_liaison(*argv, env=env)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, f"liaison {' '.join(argv)} printed a traceback:\n{stream}"
    if ok:
        assert result.returncode == 0, (f"liaison {' '.join(argv)} exited {result.returncode}\n"
                                        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    else:
        assert result.returncode != 0, f"liaison {' '.join(argv)} should have failed"
    return result


def liaison_json(*args: str, home: Path) -> Any:
    """Run a `--json` command: stdout must be exactly one JSON document."""
    return json.loads(liaison(*args, "--json", home=home).stdout)


def fails(*args: str, home: Path | None, code: int, says: list[str]) -> str:
    """The command fails with `code` and a one-sentence error naming every part of `says`."""
    result = liaison(*args, home=home, ok=False)
    assert result.returncode == code, (result.returncode, result.stderr)
    for words in says:
        assert words in result.stderr, f"{words!r} not in: {result.stderr}"
    return result.stderr


@contextmanager
def opened(home: Path) -> Iterator[Node]:
    node = Node.open(home)
    try:
        yield node
    finally:
        node.close()


def authenticates(home: Path, token: str, name: str) -> bool:
    with opened(home) as node:
        try:
            node.exchange.authenticate(token, name)
        except Unauthenticated:
            return False
    return True


def rights(home: Path, user: str) -> dict[str, tuple[bool, bool]]:
    """collection id → (can_read, can_write) as the exchange decides it for `user`."""
    with opened(home) as node:
        principal = node.exchange.admin.principal(user)
        return {v.collection.id: (v.can_read, v.can_write)
                for v in node.exchange.collections(principal)}


def counts(home: Path) -> dict[str, int]:
    return {c["alias"] or c["id"]: c["objects"]
            for c in liaison_json("collection", "list", home=home)}


@pytest.fixture
def home(engine: str, tmp_path: Path) -> Path:
    """A node made by the real `liaison init`, on each storage engine."""
    path = tmp_path / "node"
    db = database_for(engine, tmp_path)
    liaison("init", "--org", "Ministry of Examples", *(["--db", db] if db else []), home=path)
    return path


# -- STIX content for imports ---------------------------------------------------------------

def small_bundle() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid objects made with stix2, including two versions of one; invalid objects)."""
    org = stix2.Identity(name="Example CERT", identity_class="organization")
    mal = stix2.Malware(name="Grey Heron loader", is_family=True, created_by_ref=org.id)
    ind = stix2.Indicator(name="loader C2", pattern="[domain-name:value = 'c2.example']",
                          pattern_type="stix", created_by_ref=org.id)
    ind2 = ind.new_version(confidence=75, modified=ind.modified.replace(year=ind.modified.year + 1))
    rel = stix2.Relationship(ind, "indicates", mal, created_by_ref=org.id)
    ip = stix2.IPv4Address(value="198.51.100.7")
    good = [json.loads(o.serialize()) for o in (org, mal, ind, ind2, rel, ip)]
    template = json.loads(ind.serialize())
    bad = [
        {k: v for k, v in template.items() if k != "pattern"}
        | {"id": f"indicator--{uuid.uuid4()}"},
        template | {"id": "indicator--not-a-uuid"},
        template | {"id": f"indicator--{uuid.uuid4()}", "spec_version": "2.0"},
    ]
    return good, bad


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), "utf-8")
    return path


def many_indicators(n: int, seed: int) -> list[dict[str, Any]]:
    """`n` valid indicators, cheaply (plain dicts, seeded ids)."""
    rng = random.Random(seed)
    stamp = "2024-05-01T08:00:00.000Z"
    return [{"type": "indicator", "spec_version": "2.1",
             "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
             "created": stamp, "modified": stamp, "name": f"scan source {i}",
             "pattern": f"[ipv4-addr:value = '10.{i // 65536}.{i // 256 % 256}.{i % 256}']",
             "pattern_type": "stix", "valid_from": stamp} for i in range(n)]


def latest_only(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for o in objects:
        if o["id"] not in out or o.get("modified", "") > out[o["id"]].get("modified", ""):
            out[o["id"]] = o
    return out


# -- init -------------------------------------------------------------------------------------

def test_init_prints_the_admin_token_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    out = liaison("init", "--org", "Plain Org", home=path).stdout
    tokens = TOKEN.findall(out)
    assert len(tokens) == 1 and "shown only once" in out
    assert authenticates(path, tokens[0], "admin")
    assert not authenticates(path, tokens[0] + "x", "admin")
    stored = b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())
    assert tokens[0].encode() not in stored  # only a hash is kept


def test_init_json_has_admin_token_and_a_valid_org_identity(tmp_path: Path) -> None:
    path = tmp_path / "j"
    doc = json.loads(liaison("init", "--org", "JSON Org", "--json", home=path).stdout)
    assert set(doc) >= {"home", "org_identity", "admin"}
    assert doc["admin"]["name"] == "admin" and TOKEN.fullmatch(doc["admin"]["token"])
    identity = doc["org_identity"]
    assert identity["type"] == "identity" and identity["name"] == "JSON Org"
    assert identity["identity_class"] == "organization"
    assert UUID4.match(identity["id"].removeprefix("identity--"))
    result = validate_instance(identity, VALIDATOR)
    assert result.is_valid, [str(e) for e in result.errors]
    assert authenticates(path, doc["admin"]["token"], "admin")


def test_second_init_refuses_and_leaves_the_node_intact(home: Path, tmp_path: Path) -> None:
    token = liaison_json("user", "add", "keeper", "--role", "admin", home=home)["token"]
    cid = liaison_json("collection", "add", "Precious", "--alias", "precious", home=home)["id"]
    before = (home / "liaison.toml").read_bytes()
    for extra in ([], ["--json"], ["--org", "Someone Else"]):
        result = liaison("init", *extra, home=home, ok=False)
        assert result.returncode == EXIT_CONFLICT
        assert "already exists" in result.stderr and "--force" in result.stderr
        assert result.stdout == ""  # no half JSON document, no new token
    assert (home / "liaison.toml").read_bytes() == before
    assert authenticates(home, token, "keeper")
    assert [c["id"] for c in liaison_json("collection", "list", home=home)] == [cid]


def test_init_force_recreates_the_node(home: Path) -> None:
    old = liaison_json("user", "add", "old", home=home)["token"]
    liaison("collection", "add", "Gone", home=home)
    doc = json.loads(liaison("init", "--force", "--json", home=home).stdout)
    assert authenticates(home, doc["admin"]["token"], "admin")
    assert not authenticates(home, old, "old")
    assert liaison_json("collection", "list", home=home) == []
    assert [u["name"] for u in liaison_json("user", "list", home=home)] == ["admin"]


# -- users --------------------------------------------------------------------------------------

def test_user_add_list_revoke(home: Path) -> None:
    alice = liaison_json("user", "add", "alice", "--role", "analyst", home=home)
    assert alice["name"] == "alice" and alice["role"] == "analyst"
    assert TOKEN.fullmatch(alice["token"]) and UUID4.match(alice["id"])
    assert authenticates(home, alice["token"], "alice")
    assert not authenticates(home, alice["token"], "admin")  # a token is one user's

    plain = liaison("user", "add", "bob", "--role", "reader", home=home).stdout
    assert len(TOKEN.findall(plain)) == 1 and "reader" in plain

    listed = liaison("user", "list", "--json", home=home).stdout
    people = {p["name"]: p for p in json.loads(listed)}
    assert set(people) == {"admin", "alice", "bob"}
    assert people["bob"]["role"] == "reader" and people["alice"]["revoked"] is None
    assert alice["token"] not in listed and "hash" not in listed  # no secrets in listings

    assert "Revoked 'alice'" in liaison("user", "revoke", "alice", home=home).stdout
    assert not authenticates(home, alice["token"], "alice")
    people = {p["name"]: p for p in liaison_json("user", "list", home=home)}
    assert people["alice"]["revoked"] and people["bob"]["revoked"] is None
    assert "revoked" in liaison("user", "list", home=home).stdout

    fails("user", "add", "bob", home=home, code=EXIT_CONFLICT,
          says=["'bob' already exists", "liaison user list"])
    fails("user", "revoke", "carol", home=home, code=EXIT_NOT_FOUND,
          says=["'carol'", "liaison user list"])
    fails("user", "add", "bad name!", home=home, code=EXIT_BAD_INPUT, says=["user name"])
    fails("user", "add", "dave", "--role", "overlord", home=home, code=EXIT_BAD_INPUT,
          says=["overlord"])


# -- collections and grants ------------------------------------------------------------------

def test_collection_add_and_list(home: Path) -> None:
    assert "No collections yet" in liaison("collection", "list", home=home).stdout
    border = liaison_json("collection", "add", "Border security", "--alias", "border",
                          "--description", "What crosses", home=home)
    assert UUID4.match(border["id"])
    assert (border["title"], border["alias"], border["description"]) == (
        "Border security", "border", "What crosses")
    plain = liaison("collection", "add", "No alias", home=home).stdout.strip()
    assert UUID4.match(plain)  # prose mode prints just the id, for scripts

    listed = liaison_json("collection", "list", home=home)
    assert [(c["id"], c["alias"], c["objects"]) for c in listed] == [
        (border["id"], "border", 0), (plain, None, 0)]
    assert "border" in liaison("collection", "list", home=home).stdout

    fails("collection", "add", "Again", "--alias", "border", home=home, code=EXIT_CONFLICT,
          says=["'border' already exists"])
    fails("collection", "add", "Bad", "--alias", "Not An Alias", home=home,
          code=EXIT_BAD_INPUT, says=["alias"])
    fails("collection", "add", "  ", home=home, code=EXIT_BAD_INPUT, says=["title"])


def test_grant_and_revoke_grant(home: Path) -> None:
    cid = liaison_json("collection", "add", "Shared", "--alias", "shared", home=home)["id"]
    other = liaison_json("collection", "add", "Other", home=home)["id"]
    liaison("user", "add", "ana", home=home)
    liaison("user", "add", "rita", "--role", "reader", home=home)
    assert rights(home, "ana") == {}

    out = liaison("grant", "shared", "ana", "--read", "--write", home=home).stdout
    assert "'ana' may now read and write 'shared'" in out
    liaison("grant", cid, "rita", "--read", home=home)  # by id works as well as by alias
    assert rights(home, "ana") == {cid: (True, True)}
    assert rights(home, "rita") == {cid: (True, False)}

    liaison("grant", "shared", "ana", "--read", home=home)  # a grant replaces the old one
    assert rights(home, "ana") == {cid: (True, False)}
    liaison("revoke-grant", "shared", "ana", home=home)
    assert rights(home, "ana") == {}
    assert rights(home, "rita") == {cid: (True, False)}

    fails("grant", "shared", "ana", home=home, code=EXIT_BAD_INPUT, says=["--read", "--write"])
    fails("grant", "shared", "rita", "--write", home=home, code=EXIT_BAD_INPUT,
          says=["reader"])
    fails("grant", "shared", "nobody", "--read", home=home, code=EXIT_NOT_FOUND,
          says=["'nobody'", "liaison user list"])
    fails("revoke-grant", other, "ana", home=home, code=EXIT_NOT_FOUND, says=["'ana'"])


# -- import and export ----------------------------------------------------------------------------

def test_import_reports_stored_duplicate_rejected_with_reasons(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Intel", "--alias", "intel", home=home)
    good, bad = small_bundle()
    file = write_json(tmp_path / "mixed.json", bundle(good[:3] + bad + good[3:]))

    first = liaison_json("import", str(file), "--collection", "intel", home=home)
    assert (first["stored"], first["duplicate"], first["rejected"]) == (len(good), 0, len(bad))
    assert {r["id"] for r in first["rejections"]} == {b["id"] for b in bad}
    assert all(r["reason"] and r["file"] == str(file) for r in first["rejections"])
    assert counts(home)["intel"] == len(latest_only(good))

    again = liaison("import", str(file), "--collection", "intel", home=home).stdout
    assert f"0 stored, {len(good)} duplicate, {len(bad)} rejected" in again
    assert all(f"rejected {b['id']}" in again for b in bad)
    assert counts(home)["intel"] == len(latest_only(good))

    # Several files in one command, in the shapes the importer accepts.
    more = many_indicators(5, seed=1)
    files = [write_json(tmp_path / "envelope.json", {"objects": more[:2]}),
             write_json(tmp_path / "list.json", more[2:4]),
             write_json(tmp_path / "one.json", more[4])]
    summary = liaison_json("import", *map(str, files), "--collection", "intel", home=home)
    assert (summary["stored"], summary["duplicate"], summary["rejected"]) == (5, 0, 0)


def test_import_a_large_file(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Big", "--alias", "big", home=home)
    objects = many_indicators(20_000, seed=7)
    file = write_json(tmp_path / "big.json", bundle(objects))
    summary = liaison_json("import", str(file), "--collection", "big", home=home)
    assert (summary["stored"], summary["duplicate"], summary["rejected"]) == (20_000, 0, 0)
    assert counts(home)["big"] == 20_000
    out = tmp_path / "big-out.json"
    liaison("export", "--collection", "big", "--out", str(out), home=home)
    exported = json.loads(out.read_bytes())["objects"]
    assert {o["id"] for o in exported} == {o["id"] for o in objects}


def _broken_variants(text: str) -> dict[str, str]:
    """Files that are complete but for their very end (or with one bad object in it)."""
    return {
        "truncated": text[:-2],
        "missing final brace": text[:-1],
        "trailing garbage": text + "\n{}",
        "extra closing brace": text + "}",
        "bad JSON after the list": text[:-1] + ', "x": }',
        "last object not JSON": text[:-2] + ', {"type": "indicator", "id": }]}',
    }


@pytest.mark.parametrize("variant", list(_broken_variants("{}")))
def test_a_file_broken_at_the_end_writes_nothing(home: Path, tmp_path: Path,
                                                  variant: str) -> None:
    liaison("collection", "add", "Target", "--alias", "target", home=home)
    size = 20_000 if variant == "truncated" else 2_500  # more than one import batch
    text = json.dumps(bundle(many_indicators(size, seed=3)))
    broken = tmp_path / "broken.json"
    broken.write_text(_broken_variants(text)[variant], "utf-8")
    fails("import", str(broken), "--collection", "target", home=home, code=EXIT_BAD_INPUT,
          says=[str(broken)])
    assert counts(home)["target"] == 0


def test_export_round_trip(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Source", "--alias", "source", home=home)
    liaison("collection", "add", "Copy", "--alias", "copy", home=home)
    good, _ = small_bundle()
    liaison("import", str(write_json(tmp_path / "in.json", bundle(good))),
            "--collection", "source", home=home)

    out = tmp_path / "export.json"
    result = liaison("export", "--collection", "source", "--out", str(out), home=home)
    expected = latest_only(good)
    assert f"Exported {len(expected)} objects" in result.stderr and result.stdout == ""
    doc = json.loads(out.read_bytes())
    assert doc["type"] == "bundle" and UUID4.match(doc["id"].removeprefix("bundle--"))
    assert {o["id"]: o for o in doc["objects"]} == expected  # latest versions, unchanged
    assert len(doc["objects"]) == len(expected)
    for obj in doc["objects"]:
        check = validate_instance(obj, VALIDATOR)
        assert check.is_valid, [str(e) for e in check.errors]

    summary = liaison_json("import", str(out), "--collection", "copy", home=home)
    assert (summary["stored"], summary["rejected"]) == (len(expected), 0)
    copied = json.loads(liaison("export", "--collection", "copy", home=home).stdout)
    assert sorted(copied["objects"], key=lambda o: o["id"]) == sorted(
        doc["objects"], key=lambda o: o["id"])
    assert copied["id"] != doc["id"]  # each export is a new bundle


def test_export_of_an_empty_collection_is_a_bundle_without_objects(
        home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Empty", "--alias", "empty", home=home)
    doc = json.loads(liaison("export", "--collection", "empty", home=home).stdout)
    assert set(doc) == {"type", "id"} and doc["type"] == "bundle"  # no empty list (§2)
    check = validate_instance(doc, VALIDATOR)
    assert check.is_valid, [str(e) for e in check.errors]
    file = write_json(tmp_path / "empty.json", doc)  # and it imports as nothing at all
    summary = liaison_json("import", str(file), "--collection", "empty", home=home)
    assert (summary["stored"], summary["duplicate"], summary["rejected"]) == (0, 0, 0)
    envelope = write_json(tmp_path / "envelope.json", {})  # an empty TAXII envelope
    summary = liaison_json("import", str(envelope), "--collection", "empty", home=home)
    assert (summary["stored"], summary["duplicate"], summary["rejected"]) == (0, 0, 0)


# -- error paths --------------------------------------------------------------------------------

def test_unknown_collection_is_named_with_a_hint(home: Path, tmp_path: Path) -> None:
    liaison("user", "add", "ana", home=home)
    file = write_json(tmp_path / "b.json", bundle(many_indicators(3, seed=2)))
    says = ["collection 'border' not found", "liaison collection list"]
    for args in (["import", str(file), "--collection", "border"],
                 ["export", "--collection", "border"],
                 ["grant", "border", "ana", "--read"],
                 ["revoke-grant", "border", "ana"]):
        fails(*args, home=home, code=EXIT_NOT_FOUND, says=says)


@pytest.mark.parametrize("content, says", [
    (b"this is not JSON", "not a JSON object or list"),
    (b"", "empty"),
    (b"42", "not a JSON object or list"),
    (b'{"type": "bundle", "objects": [{"type": "indicator"}', "ends"),
    (b'[{"a": 1} {"b": 2}]', "expected ','"),
    (b"\xef\xbb\xbf{}", "byte order mark"),
])
def test_bad_files_are_refused_with_a_reason(home: Path, tmp_path: Path, content: bytes,
                                             says: str) -> None:
    liaison("collection", "add", "Target", "--alias", "target", home=home)
    file = tmp_path / "bad.json"
    file.write_bytes(content)
    fails("import", str(file), "--collection", "target", home=home, code=EXIT_BAD_INPUT,
          says=[str(file), says])
    assert counts(home)["target"] == 0


def test_missing_or_unreadable_files(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Target", "--alias", "target", home=home)
    fails("import", str(tmp_path / "nope.json"), "--collection", "target", home=home,
          code=EXIT_BAD_INPUT, says=["does not exist"])
    fails("import", str(tmp_path), "--collection", "target", home=home,
          code=EXIT_BAD_INPUT, says=["is a directory"])
    fails("import", home=home, code=EXIT_BAD_INPUT, says=["Missing argument"])


@pytest.mark.parametrize("args", [
    ["user", "add", "ana"], ["user", "list"], ["user", "revoke", "ana"],
    ["collection", "add", "X"], ["collection", "list"], ["grant", "x", "ana", "--read"],
    ["revoke-grant", "x", "ana"], ["export", "--collection", "x"],
    ["serve", "--port", "9"], ["db", "upgrade"],
])
def test_a_missing_home_says_run_liaison_init(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nowhere"
    fails(*args, home=missing, code=EXIT_CONFIG, says=["run 'liaison init", str(missing)])
    assert not missing.exists()  # nothing was created by looking


def test_file_system_errors_are_sentences(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Out", "--alias", "out", home=home)
    target = tmp_path / "no-such-folder" / "x.json"
    fails("export", "--collection", "out", "--out", str(target), home=home, code=1,
          says=[str(target), "No such file or directory"])
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a folder")
    fails("init", home=a_file / "node", code=1, says=[str(a_file / "node"), "Not a directory"])


def test_a_failed_init_leaves_nothing_that_blocks_a_retry(tmp_path: Path) -> None:
    path = tmp_path / "retry"
    bad_db = tmp_path / "no-such-folder" / "x.db"
    fails("init", "--db", f"sqlite:{bad_db}", home=path, code=EXIT_CONFIG,
          says=["cannot open database", str(bad_db)])
    fails("user", "list", home=path, code=EXIT_CONFIG, says=["run 'liaison init"])
    doc = json.loads(liaison("init", "--json", home=path).stdout)  # not "already exists"
    assert authenticates(path, doc["admin"]["token"], "admin")


def test_export_into_a_closed_pipe_stops_quietly(home: Path, tmp_path: Path) -> None:
    liaison("collection", "add", "Pipe", "--alias", "pipe", home=home)
    file = write_json(tmp_path / "many.json", bundle(many_indicators(3_000, seed=5)))
    liaison("import", str(file), "--collection", "pipe", home=home)
    proc = subprocess.Popen([str(liaison_exe()), "export", "--collection", "pipe",
                             "--home", str(home)], env=node_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # like `liaison export | head -c 100`
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b'{"type":"bundle"')
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) != 0
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_home_from_the_environment_and_before_the_command(home: Path) -> None:
    liaison("collection", "add", "Env", "--alias", "env", home=home)
    by_env = json.loads(liaison("collection", "list", "--json",
                                env={"LIAISON_HOME": str(home)}).stdout)
    before = json.loads(liaison("--home", str(home), "collection", "list", "--json").stdout)
    assert [c["alias"] for c in by_env] == [c["alias"] for c in before] == ["env"]


def test_db_upgrade_plan_and_settings(home: Path) -> None:
    assert "up to date" in liaison("db", "upgrade", "--plan", home=home).stdout
    out = liaison("settings", home=home).stdout
    assert "max_page_size" in out and "LIAISON_MAX_PAGE_SIZE" in out


# -- help ---------------------------------------------------------------------------------

def _commands() -> list[list[str]]:
    """Every command and subcommand, as registered by the modules of `liaison.cli`."""
    import importlib
    import pkgutil

    import liaison.cli
    from liaison.cli.main import cli

    for module in pkgutil.iter_modules(liaison.cli.__path__):
        if module.name.endswith("_cmds"):
            importlib.import_module(f"liaison.cli.{module.name}")

    def walk(group: click.Group, prefix: list[str]) -> Iterator[list[str]]:
        for name, command in sorted(group.commands.items()):
            yield [*prefix, name]
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])

    return list(walk(cli, []))


def test_help_of_the_program() -> None:
    out = liaison("--help").stdout
    for name in ("init", "serve", "user", "collection", "grant", "import", "export"):
        assert name in out
    assert liaison("--version").stdout.strip().startswith("liaison")
    result = liaison("no-such-command", ok=False)
    assert result.returncode == 2 and "No such command" in result.stderr


def test_help_of_each_command() -> None:
    """In-process (click's runner) for speed; the real program's help is tested above."""
    from click.testing import CliRunner

    from liaison.cli.main import cli

    commands = _commands()
    assert len(commands) >= 15
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(cli, [*command, "--help"], prog_name="liaison")
        assert result.exit_code == 0, (command, result.output, result.exception)
        assert result.output.startswith("Usage: liaison " + " ".join(command)), result.output
    assert liaison("import", "--help").stdout.startswith("Usage: liaison import")
