"""Real Liaison nodes for end-to-end tests: `liaison init` + `liaison serve` as processes.

    with liaison_node(tmp_path / "a") as node:
        Server(node.discovery_url, user="admin", password=node.admin_token)

    with liaison_nodes(tmp_path, ["north", "south"], env={"LIAISON_MAX_PAGE_SIZE": "50"}) as n:
        n["north"].cli("collection", "add", "Shared", "--alias", "shared", "--json")

Each node runs the `liaison` console script of the venv running the tests, on a free
port of 127.0.0.1, with its own home.  Inherited `LIAISON_*` variables are dropped so
the node sees only its settings file and the `env` given here.  On exit the server gets
SIGTERM, then SIGKILL after a timeout; by default the exit also asserts that the server
logged no traceback.  Network: 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 120.0


def liaison_exe() -> Path:
    """The `liaison` console script installed beside the interpreter running the tests."""
    exe = Path(sys.executable).parent / "liaison"
    assert exe.exists(), f"no liaison console script at {exe}: pip install -e . in this venv"
    return exe


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the server retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def node_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a node process: ours minus LIAISON_*, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_liaison(*args: str, env: Mapping[str, str] | None = None, input: bytes | None = None,
                timeout: float = CLI_TIMEOUT, check: bool = False,
                ) -> subprocess.CompletedProcess[str]:
    """Run `liaison ARGS` to completion; stdout and stderr are captured as text."""
    proc = subprocess.run([str(liaison_exe()), *args], env=node_env(env), input=input,
                          capture_output=True, timeout=timeout)
    result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                         proc.stdout.decode("utf-8", "replace"),
                                         proc.stderr.decode("utf-8", "replace"))
    if check:
        assert result.returncode == 0, (
            f"liaison {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


@dataclass
class RunningNode:
    """A node home with a `liaison serve` process listening on `port`."""

    home: Path
    port: int
    admin_token: str
    init: dict[str, Any]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    admin_name: str = "admin"
    serve_args: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/taxii2/"

    def api_root_url(self, name: str = "api") -> str:
        return f"{self.base_url}/{name}/"

    def collection_url(self, collection_id: str, root: str = "api") -> str:
        return f"{self.api_root_url(root)}collections/{collection_id}/"

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8", "replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text("utf-8", "replace")

    def cli(self, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT,
            ) -> subprocess.CompletedProcess[str]:
        """Run `liaison ARGS --home HOME` against this node (while it serves)."""
        return run_liaison(*args, "--home", str(self.home), env=self.env, check=check,
                           timeout=timeout)

    def cli_json(self, *args: str) -> Any:
        """Run a `--json` command against this node and parse its one JSON document."""
        return json.loads(self.cli(*args, "--json").stdout)

    def add_user(self, name: str, role: str = "analyst") -> str:
        """Add a user through the CLI; return its token."""
        return str(self.cli_json("user", "add", name, "--role", role)["token"])

    def add_collection(self, title: str, alias: str | None = None) -> str:
        """Add a collection through the CLI; return its id."""
        args = ["collection", "add", title] + (["--alias", alias] if alias else [])
        return str(self.cli_json(*args)["id"])

    def grant(self, collection: str, principal: str, *, read: bool = True,
              write: bool = False) -> None:
        flags = (["--read"] if read else []) + (["--write"] if write else [])
        self.cli("grant", collection, principal, *flags)

    def auth(self, name: str | None = None, token: str | None = None) -> tuple[str, str]:
        """(user, password) for HTTP Basic; the admin by default."""
        return (name or self.admin_name, token or self.admin_token)

    def restart(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Stop the server process and start a new one on the same home and port."""
        stop_cleanly(self)
        started = start_server(self.home, self.init, self.env, self.serve_args, self.port, timeout)
        self.process, self.stdout_path, self.stderr_path = (
            started.process, started.stdout_path, started.stderr_path)

    @contextmanager
    def another_process(self, timeout: float = STARTUP_TIMEOUT) -> Iterator[RunningNode]:
        """A second `liaison serve` on the same home (same database), on its own port."""
        other = start_server(self.home, self.init, self.env, self.serve_args, None, timeout)
        ok = False
        try:
            yield other
            ok = True
        finally:
            if ok:
                stop_cleanly(other)
            else:
                stop(other.process)


def _wait_until_up(node: RunningNode, timeout: float) -> str | None:
    """None once GET /taxii2/ answers; else why it did not (the server died, timeout)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            code = node.process.poll()
            if code is not None:
                return f"the server exited with code {code}"
            try:
                http.get(node.discovery_url, auth=node.auth())
                return None
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
    return f"GET {node.discovery_url} did not answer within {timeout:.0f} s ({last})"


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, then SIGKILL after `timeout`; return the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return int(process.returncode)


def stop_cleanly(node: RunningNode) -> None:
    """Stop the server; it must exit normally and must not have logged a traceback."""
    code = stop(node.process)
    log = node.stderr()
    assert "Traceback" not in log, f"liaison serve at {node.home} logged an error:\n{log}"
    assert code in (0, -signal.SIGTERM), (
        f"liaison serve at {node.home} exited {code} on SIGTERM\n{log}")


def start_server(home: Path, init: dict[str, Any], env: dict[str, str], serve_args: Iterable[str],
           port: int | None, timeout: float) -> RunningNode:
    """Start `liaison serve`; on a lost race for a free port, try another port."""
    serve_args = tuple(serve_args)
    for attempt in range(3):
        chosen = port or free_port()
        out = home.parent / f"{home.name}.serve-{chosen}-{time.monotonic_ns()}.stdout.log"
        err = out.with_name(out.name.replace(".stdout.", ".stderr."))
        with out.open("wb") as fo, err.open("wb") as fe:
            process = subprocess.Popen(
                [str(liaison_exe()), "serve", "--home", str(home), "--host", HOST,
                 "--port", str(chosen), *serve_args],
                env=env, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        node = RunningNode(home, chosen, str(init["admin"]["token"]), init, env, process,
                           out, err, admin_name=str(init["admin"]["name"]),
                           serve_args=serve_args)
        problem = _wait_until_up(node, timeout)
        if problem is None:
            return node
        stop(process)
        if port is None and "address already in use" in node.stderr().lower() and attempt < 2:
            continue
        raise AssertionError(f"liaison serve at {home} did not start: {problem}\n"
                             f"stdout:\n{node.stdout()}\nstderr:\n{node.stderr()}")
    raise AssertionError("unreachable")


@contextmanager
def liaison_node(home: Path, *, org: str = "Test Organisation",
                 env: Mapping[str, str] | None = None, port: int | None = None,
                 init_args: Iterable[str] = (), serve_args: Iterable[str] = (),
                 startup_timeout: float = STARTUP_TIMEOUT,
                 forbid_tracebacks: bool = True) -> Iterator[RunningNode]:
    """`liaison init --home HOME --json` then `liaison serve`; yield the running node.

    `env` adds environment variables (e.g. LIAISON_MAX_PAGE_SIZE) to both processes;
    `init_args` go to init (e.g. ["--db", "postgresql://…"]), `serve_args` to serve.
    """
    full_env = node_env(env)
    made = run_liaison("init", "--home", str(home), "--org", org, "--json", *init_args,
                       env=env, check=True)
    init = json.loads(made.stdout)
    node = start_server(home, init, full_env, serve_args, port, startup_timeout)
    ok = False
    try:
        yield node
        ok = True
    finally:
        if ok and forbid_tracebacks:
            stop_cleanly(node)
        else:
            stop(node.process)


@contextmanager
def liaison_nodes(root: Path, names: Iterable[str], *,
                  env: Mapping[str, str] | None = None,
                  env_by_node: Mapping[str, Mapping[str, str]] | None = None,
                  **kwargs: Any) -> Iterator[dict[str, RunningNode]]:
    """Several nodes side by side (home root/NAME, organisation NAME), e.g. for federation.

    `env` applies to every node and `env_by_node[name]` adds to it for one node; other
    keyword arguments go to `liaison_node` for every node.  All stop on exit.
    """
    with ExitStack() as stack:
        nodes: dict[str, RunningNode] = {}
        for name in names:
            merged = {**(env or {}), **(env_by_node or {}).get(name, {})}
            nodes[name] = stack.enter_context(
                liaison_node(root / name, org=name, env=merged, **kwargs))
        yield nodes
