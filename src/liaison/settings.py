"""One registry of settings: defaults, then the node's settings file, then `LIAISON_*`
environment variables, then command-line flags (applied by the CLI as overrides).

`docs/settings.md` is generated from `SETTINGS` (see `liaison settings --markdown`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liaison.errors import ConfigError

SETTINGS_FILE = "liaison.toml"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LIAISON_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("database", str, "sqlite:liaison.db",
            "Where the node keeps its data: 'sqlite:PATH' (relative to the home) or a "
            "'postgresql://' URL."),
    Setting("api_root", str, "api", "Name of the node's TAXII API root: served at /NAME/."),
    Setting("title", str, "", "Title of the TAXII discovery resource; empty means "
            "'Liaison node of ORG'."),
    Setting("public_base_url", str, "", "Public https:// origin of the node when it runs "
            "behind a proxy; discovery then lists absolute API root URLs."),
    Setting("max_content_length", int, 16 * 1024 * 1024,
            "Largest request body accepted, in bytes (TAXII §4.2.1); larger bodies get 413."),
    Setting("default_page_size", int, 1000, "Items per page when a client gives no limit."),
    Setting("max_page_size", int, 5000, "Largest page served; larger limits are capped."),
    Setting("status_retention_hours", int, 168,
            "How long status resources are kept (TAXII §4.3 asks for at least 24)."),
    Setting("cursor_ttl_seconds", int, 86400, "How long a 'next' cursor stays valid."),
    Setting("db_pool_size", int, 10,
            "Most PostgreSQL connections one server process (or worker) opens; all "
            "processes together must stay below the server's max_connections."),
    Setting("workers", int, 1,
            "Server processes 'liaison serve' starts on its port (see README, "
            "'Running at scale')."),
    Setting("host", str, "127.0.0.1", "Address 'liaison serve' listens on."),
    Setting("port", int, 8000, "Port 'liaison serve' listens on."),
    Setting("sync_interval_seconds", int, 60,
            "Seconds between the sync passes 'liaison serve' runs in the background "
            "(off with 'liaison serve --no-sync'); see docs/federation.md."),
    Setting("sync_page_size", int, 1000, "Objects asked for (pull) or sent (push) per request."),
    Setting("sync_max_pages", int, 1000,
            "Most pages one sync run moves per agreement, collection and direction; the "
            "next run goes on from the checkpoint."),
    Setting("sync_max_response_bytes", int, 64 * 1024 * 1024,
            "Largest answer accepted from a partner, and largest body sent to one, in bytes."),
    Setting("sync_timeout_seconds", int, 30,
            "Seconds a partner may stay silent during a call before it is retried."),
    Setting("sync_lease_seconds", int, 300,
            "How long one process holds a sync job before another may take it over."),
    Setting("audit", bool, True,
            "Keep the tamper-evident audit log. Off only to measure what it "
            "costs (bench/): a node serving with it off says so in its log and in the "
            "audit log itself."),
    Setting("search_index", bool, True,
            "Index observables and text as objects are stored (lookup, search, correlation). "
            "Off, those answer 503; after turning it back on, run 'liaison db reindex'."),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def default_home() -> Path:
    """`$LIAISON_HOME`, else `~/.liaison`."""
    env = os.environ.get("LIAISON_HOME")
    return Path(env).expanduser() if env else Path.home() / ".liaison"


_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    if setting.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigError(f"setting '{setting.name}' from {source} must be true or false, "
                          f"not {value!r}")
    if setting.type is int:
        if isinstance(value, bool):
            raise ConfigError(f"setting '{setting.name}' from {source} must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"setting '{setting.name}' from {source} must be a whole number, not {value!r}"
            ) from None
        if number <= 0:
            raise ConfigError(f"setting '{setting.name}' from {source} must be positive")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"setting '{setting.name}' from {source} must be text")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def with_overrides(self, **overrides: Any) -> Settings:
        values = dict(self.values)
        for name, value in overrides.items():
            if value is not None:
                values[name] = _coerce(_BY_NAME[name], value, "the command line")
        return Settings(self.home, values)


def load(home: Path) -> Settings:
    """Read the settings of the node at `home` (its file must exist)."""
    path = home / SETTINGS_FILE
    if not path.exists():
        raise ConfigError(
            f"no Liaison node at {home} — run 'liaison init --home {home}' first"
        )
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    values = {s.name: s.default for s in SETTINGS}
    for key, value in data.items():
        if key not in _BY_NAME:
            raise ConfigError(f"{path}: unknown setting '{key}' — see 'liaison settings'")
        values[key] = _coerce(_BY_NAME[key], value, str(path))
    for s in SETTINGS:
        if s.env in os.environ:
            values[s.name] = _coerce(s, os.environ[s.env], f"${s.env}")
    return Settings(home, values)


def write(home: Path, values: dict[str, Any]) -> Path:
    """Write a settings file holding `values` (only the ones that differ from defaults)."""
    lines = ["# Liaison node settings — see 'liaison settings' for every name.\n"]
    for s in SETTINGS:
        if s.name in values and values[s.name] != s.default:
            v = values[s.name]
            if s.type is bool:
                lines.append(f"{s.name} = {'true' if v else 'false'}\n")
            else:
                lines.append(f"{s.name} = {v}\n" if s.type is int
                             else f"{s.name} = {_toml_str(v)}\n")
    path = home / SETTINGS_FILE
    path.write_text("".join(lines), "utf-8")
    return path


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def database_url(settings: Settings) -> str:
    """The database URL with a relative SQLite path resolved against the home."""
    url: str = settings.database
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:").removeprefix("//"))
        return "sqlite:" + str(path if path.is_absolute() else settings.home / path)
    return url
