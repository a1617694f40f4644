"""SQL fragments shared by the engines: TAXII filters compiled once, for any placeholder.

The query semantics (TAXII 2.1 §3.4 filters, §3.4.1 `match[version]`) are written here
once; SQLite passes `?` and PostgreSQL `%s` as the placeholder.  Both schemas keep
`is_latest` / `is_first` as 0/1 integers so the fragments are the same text.
"""

from __future__ import annotations

from liaison.storage.base import ObjectQuery, VersionFilter
from liaison.storage.policy_sql import visible_sql


def _marks(mark: str, n: int) -> str:
    return ",".join([mark] * n)


def version_clause(which: VersionFilter, mark: str) -> tuple[str, list[object]]:
    """The `match[version]` condition (TAXII §3.4.1) as an AND-ed SQL fragment."""
    if which.all:
        return "", []
    parts: list[str] = []
    params: list[object] = []
    if which.last:
        parts.append("is_latest = 1")
    if which.first:
        parts.append("is_first = 1")
    if which.exact:
        parts.append(f"version IN ({_marks(mark, len(which.exact))})")
        params.extend(which.exact)
    if not parts:  # no keyword and no instant: nothing can match
        parts.append("1 = 0")
    return f" AND ({' OR '.join(parts)})", params


def where(q: ObjectQuery, mark: str) -> tuple[str, list[object]]:
    """The WHERE condition of one page of `q` (without ORDER BY / LIMIT)."""
    sql = f"cid = {mark}"
    params: list[object] = [q.cid]
    if q.after is not None:
        sql += f" AND date_added > {mark}"
        params.append(q.after)
    if q.ids:
        sql += f" AND stix_id IN ({_marks(mark, len(q.ids))})"
        params.extend(q.ids)
    if q.types:
        sql += f" AND type IN ({_marks(mark, len(q.types))})"
        params.extend(q.types)
    if q.exclude_origin is not None:
        sql += f" AND (origin IS NULL OR origin <> {mark})"
        params.append(q.exclude_origin)
    clause, vparams = version_clause(q.versions, mark)
    sql, params = sql + clause, params + vparams
    if q.visibility is not None:
        visible, pparams = visible_sql(q.visibility, "o", mark)
        sql, params = f"{sql} AND {visible}", params + pparams
    return sql, params


def page_sql(q: ObjectQuery, mark: str) -> tuple[str, list[object]]:
    """One page of `q` in ascending `date_added`, with one row more to tell `more`."""
    condition, params = where(q, mark)
    cols = "date_added, stix_id, version_text, " + ("body" if q.with_body else "NULL")
    # With ids the matching rows are few: sort them (`+ 0` keeps both planners from walking
    # the date index in order and filtering, which grows with the store).
    order = "date_added + 0" if q.ids else "date_added"
    return (f"SELECT {cols} FROM objects o WHERE {condition} ORDER BY {order} LIMIT {mark}",
            [*params, q.limit + 1])
