"""The servers under test, each started by the harness as a real process on 127.0.0.1.

- `medallion`: the OASIS reference TAXII 2.1 server (`medallion` 3.0.0, memory
  backend) in its own virtual environment, `bench/.venv-medallion`, made here if
  missing, so its Flask dependencies stay out of the project's environment.
- `liaison-sqlite`: `liaison init` + `liaison collection add` + `liaison serve`.
- `liaison-postgres`: the same on a scratch PostgreSQL database (created and dropped
  here) on the server at 127.0.0.1:5432.
- `liaison-sqlite-noaudit`, `liaison-sqlite-noindex`: `liaison-sqlite` served with the
  setting `audit` (`LIAISON_AUDIT=false`) or `search_index` (`LIAISON_SEARCH_INDEX=false`)
  off, to measure what the audit log and the search index cost.  Whether the server
  honours the switch is checked (`liaison settings`) and recorded in `Server.switch`.

Every Liaison peer also gets a partner (`liaison partner add` + `liaison agreement add`,
pull, up to TLP:AMBER on the bench collection) before it serves, for `partner_read`.

Every server is stopped by its own process id (never by name).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
MEDALLION_VENV = BENCH / ".venv-medallion"
PROJECT_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TAXII = "application/taxii+json;version=2.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running peer: where to reach it and how to stop it."""

    name: str
    proc: subprocess.Popen
    base: str  # http://127.0.0.1:PORT
    api_root: str  # path of the API root, e.g. /api/
    collection: str  # collection id
    auth: tuple[str, str]
    workdir: Path
    log_path: Path
    notes: list[str] = field(default_factory=list)
    cleanup: list = field(default_factory=list)
    partner_auth: tuple[str, str] | None = None  # a partner's credentials (Liaison only)
    partner_max_tlp: str | None = None  # what the partner's agreement releases
    home: Path | None = None  # the Liaison node's home (its SQLite database is there)
    engine: str | None = None  # "sqlite" / "postgres" for Liaison, None for medallion
    switch: dict | None = None  # a setting switched off for this peer, and if it held

    @property
    def is_liaison(self) -> bool:
        return self.engine is not None

    @property
    def search_index(self) -> bool:
        """False when the peer serves with the search index switched off."""
        return not (self.switch and self.switch["setting"] == "search_index")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def objects_url(self) -> str:
        return f"{self.base}{self.api_root}collections/{self.collection}/objects/"

    @property
    def manifest_url(self) -> str:
        return f"{self.base}{self.api_root}collections/{self.collection}/manifest/"

    def status_url(self, sid: str) -> str:
        return f"{self.base}{self.api_root}status/{sid}/"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for fn in self.cleanup:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide results
                print(f"  cleanup of {self.name} failed: {exc}", file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited at start-up; see its log:\n"
                               + server.log_path.read_text(errors="replace")[-3000:])
        try:
            r = httpx.get(f"{server.base}/taxii2/", auth=server.auth,
                          headers={"Accept": TAXII}, timeout=2)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer on {server.base} within {timeout}s ({last})")


# -- medallion -------------------------------------------------------------------------
def ensure_medallion(log=print) -> Path:
    """The medallion executable of bench/.venv-medallion (created on first use)."""
    exe = MEDALLION_VENV / "bin" / "medallion"
    if not exe.exists():
        log(f"  creating {MEDALLION_VENV} and installing medallion (pip)…")
        base_python = getattr(sys, "_base_executable", None) or "python3"
        subprocess.run([base_python, "-m", "venv", str(MEDALLION_VENV)], check=True)
        subprocess.run([str(MEDALLION_VENV / "bin" / "pip"), "install", "-q", "medallion==3.0.0"],
                       check=True)
    return exe


def medallion_version() -> str:
    try:
        out = subprocess.run([str(MEDALLION_VENV / "bin" / "python"), "-c",
                              ("import medallion, flask, werkzeug; print(medallion.__version__, "
                               "'flask', flask.__version__ if hasattr(flask, '__version__') "
                               "else '?')")],
                             capture_output=True, text=True, timeout=30, check=False)
        return out.stdout.strip()
    except OSError:
        return "?"


MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def medallion_data(objects: list[dict] | None = None, date_added: list[str] | None = None) -> dict:
    """The memory backend's data file: discovery, one API root, one read/write collection
    (optionally preloaded with objects and their manifest records)."""
    objects = objects or []
    manifest = []
    for obj, added in zip(objects, date_added or []):
        if "modified" not in obj and "created" not in obj:
            obj["_date_added"] = added  # what medallion's add_objects does for SCOs
        manifest.append({"id": obj["id"], "date_added": added,
                         "version": obj.get("modified", obj.get("created", added)),
                         "media_type": "application/stix+json;version=2.1"})
    return {
        "/discovery": {"title": "medallion bench", "description": "benchmark",
                       "default": "http://127.0.0.1/api/", "api_roots": ["http://127.0.0.1/api/"]},
        "api": {
            "information": {"title": "bench root", "description": "benchmark",
                            "versions": [TAXII], "max_content_length": 256 * 1024 * 1024},
            "status": [],
            "collections": [{
                "id": MEDALLION_COLLECTION, "title": "bench", "description": "benchmark",
                "can_read": True, "can_write": True,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": objects, "manifest": manifest,
            }],
        },
    }


def start_medallion(max_page_size: int, preload: tuple[list[dict], list[str]] | None = None,
                    log=print) -> Server:
    exe = ensure_medallion(log)
    work = Path(tempfile.mkdtemp(prefix="liaison-bench-medallion-"))
    data_path = work / "data.json"
    objs, dates = preload if preload else (None, None)
    data_path.write_text(json.dumps(medallion_data(objs, dates)))
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(data_path),
                    # Cursors live 30 s by default: a long paginated read would lose its
                    # `next` half way.  Give it an hour, so slowness is measured, not errors.
                    "session_timeout": 3600},
        "users": {"admin": "bench-password"},
        "taxii": {"max_page_size": max_page_size},
    }
    config_path = work / "config.json"
    config_path.write_text(json.dumps(config))
    port = free_port()
    log_path = work / "medallion.log"
    with log_path.open("wb") as logf:
        proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port),
                                 "--log-level", "WARN", str(config_path)],
                                stdout=logf, stderr=subprocess.STDOUT, cwd=work)
    server = Server("medallion", proc, f"http://127.0.0.1:{port}", "/api/", MEDALLION_COLLECTION,
                    ("admin", "bench-password"), work, log_path)
    server.notes.append("medallion 3.0.0 memory backend, its own `medallion` command (Flask "
                        "development server, threaded); session_timeout 3600 s")
    try:
        _wait_ready(server, timeout=120 + (len(objs or []) / 2000))
    except BaseException:
        server.stop()
        raise
    return server


# -- Liaison ---------------------------------------------------------------------------
def _liaison(*args: str, home: Path) -> dict:
    exe = PROJECT_BIN / "liaison"
    out = subprocess.run([str(exe), *args, "--home", str(home)], capture_output=True,
                         text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"liaison {' '.join(args)} failed ({out.returncode}):\n"
                           f"{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout) if "--json" in args else {}


def create_pg_database(log=print) -> tuple[str, callable]:
    import psycopg

    name = f"liaison_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


# Settings a variant switches off, and their environment variables (bench only: a
# node serving with one off says so in its log).
SWITCHES = {"audit": "LIAISON_AUDIT", "search_index": "LIAISON_SEARCH_INDEX"}
LIAISON_PEERS = {  # peer -> (engine, setting switched off or None)
    "liaison-sqlite": ("sqlite", None),
    "liaison-postgres": ("postgres", None),
    "liaison-sqlite-noaudit": ("sqlite", "audit"),
    "liaison-sqlite-noindex": ("sqlite", "search_index"),
}
PEERS = ("medallion", *LIAISON_PEERS)
LIAISON = "liaison-sqlite"
VARIANT_OF = {off: peer for peer, (engine, off) in LIAISON_PEERS.items()
              if off is not None and engine == "sqlite"}
"""The SQLite peer that serves with each switch off (bench/paired.py measures the pair)."""
PARTNER = "benchpartner"
PARTNER_IDENTITY = "identity--5eed0000-0000-4000-8000-00000000beef"
PARTNER_MAX_TLP = "amber"


def _setting_value(home: Path, env: dict, name: str) -> str | None:
    """The value `liaison settings` shows for `name` under `env` (None: no such setting)."""
    out = subprocess.run([str(PROJECT_BIN / "liaison"), "settings", "--home", str(home)],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith(f"{name} = "):
            return line.split(" = ", 1)[1].split("    (", 1)[0].strip()
    return None


def start_liaison(engine: str, log=print, extra_env: dict | None = None, *,
                  name: str | None = None, switch_off: str | None = None,
                  partner: bool = True) -> Server:
    """`liaison init` + collection (+ partner and agreement) + `liaison serve`.

    `switch_off`: a setting of `SWITCHES` to serve with off (through its environment
    variable); `Server.switch` records whether the server knows the setting."""
    work = Path(tempfile.mkdtemp(prefix=f"liaison-bench-{engine}-"))
    home = work / "home"
    cleanup = []
    init_args = ["init", "--org", "Bench Org", "--json"]
    if engine == "postgres":
        url, drop = create_pg_database(log)
        cleanup.append(drop)
        init_args += ["--db", url]
    # The plain peers never inherit a switch from the caller's environment.
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES.values()}
    env.update(extra_env or {})
    if switch_off:
        env[SWITCHES[switch_off]] = "false"
    partner_auth = None
    switch = None
    try:
        info = _liaison(*init_args, home=home)
        coll = _liaison("collection", "add", "Bench", "--alias", "bench", "--json", home=home)
        if partner:
            added = _liaison("partner", "add", PARTNER, "--org-identity", PARTNER_IDENTITY,
                             "--json", home=home)
            _liaison("agreement", "add", PARTNER, "--collection", "bench", "--direction",
                     "pull", "--max-tlp", PARTNER_MAX_TLP, "--json", home=home)
            partner_auth = (PARTNER, added["inbound_token"])
        if switch_off:
            shown = _setting_value(home, env, switch_off)
            switch = {"setting": switch_off, "env": f"{SWITCHES[switch_off]}=false",
                      "shown": shown, "honoured": shown is not None
                      and shown.strip("'\"").lower() in ("false", "off", "0", "no")}
    except BaseException:
        for fn in cleanup:
            fn()
        shutil.rmtree(work, ignore_errors=True)
        raise
    token = info["admin"]["token"]
    coll_id = coll.get("id") or coll.get("collection", {}).get("id")
    port = free_port()
    log_path = work / "serve.log"
    with log_path.open("wb") as logf:
        proc = subprocess.Popen([str(PROJECT_BIN / "liaison"), "serve", "--home", str(home),
                                 "--port", str(port), "--log-level", "warning"],
                                stdout=logf, stderr=subprocess.STDOUT, env=env)
    server = Server(name or f"liaison-{engine}", proc, f"http://127.0.0.1:{port}", "/api/",
                    coll_id, (info["admin"]["name"], token), work, log_path, cleanup=cleanup,
                    partner_auth=partner_auth,
                    partner_max_tlp=PARTNER_MAX_TLP if partner_auth else None,
                    home=home, engine=engine, switch=switch)
    server.notes.append(f"`liaison serve` (uvicorn, 1 worker) on {engine}")
    if switch:
        server.notes.append(
            f"served with {switch['env']}" + ("" if switch["honoured"] else
                                               f" — NOT honoured: `liaison settings` shows "
                                               f"{switch_off} = {switch['shown']}"))
        if not switch["honoured"]:
            log(f"  {server.name}: WARNING: the server does not honour {switch['env']} "
                f"(`liaison settings` shows {switch_off} = {switch['shown']}); "
                "this variant measures the default")
    if partner_auth:
        server.notes.append(f"partner '{PARTNER}': pull agreement on the bench collection "
                            f"up to TLP:{PARTNER_MAX_TLP.upper()}")
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def audit_counts(server: Server) -> dict[str, int] | None:
    """Audit entries by action in a SQLite node's database (None: not SQLite)."""
    if server.engine != "sqlite" or server.home is None:
        return None
    db = server.home / "liaison.db"
    if not db.exists():
        return None
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT action, count(*) FROM audit_log GROUP BY action"))
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def start(peer: str, *, max_page_size: int, log=print) -> Server:
    if peer == "medallion":
        return start_medallion(max_page_size, log=log)
    if peer in LIAISON_PEERS:
        engine, off = LIAISON_PEERS[peer]
        return start_liaison(engine, log, name=peer, switch_off=off)
    raise ValueError(f"unknown peer {peer!r}: one of {', '.join(PEERS)}")
