"""Storage engines behind one `Store` interface (see `base`)."""

from __future__ import annotations

from liaison.errors import ConfigError
from liaison.storage.base import Store


def open_store(url: str, *, create: bool = False, pool_size: int = 10) -> Store:
    """Open the engine a database URL names: `sqlite:PATH` or `postgresql://…`.

    `create` lets SQLite make a new file; `pool_size` caps PostgreSQL connections.
    """
    if url.startswith("sqlite:"):
        from liaison.storage.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:"), create=create)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from liaison.storage.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - engine module missing
            raise ConfigError(f"the PostgreSQL engine is not available: {exc}") from exc
        return PostgresStore(url, pool_size=pool_size)  # type: ignore[no-any-return]
    raise ConfigError(
        f"unsupported database URL {url!r}: use 'sqlite:PATH' or 'postgresql://HOST/DB'"
    )
