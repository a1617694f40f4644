"""The release decision compiled into SQL: the predicate every partner read carries.

Mirrors `policy.decide` rule for rule (the property tests hold them together), over the
release columns stored at ingest (`policy.derive`) and the marking registry:

- public standard TLP definitions are released wherever an agreement is;
- `restricted` (granular markings beyond the object's own) withholds;
- every non-TLP marking must be in the registry as a statement, or as a
  releasability marking that lists the partner's organisation;
- some agreement term admits the object's TLP (the collection default when unmarked)
  and, for material received from another partner, allows re-sharing at ≤ GREEN;
- a relationship's or sighting's endpoints must themselves pass the rules above, as
  the latest version in the same collection (missing endpoints withhold), and must not
  be relationships or sightings themselves (STIX 2.1 §5.1.1, §5.2: endpoints are SDOs
  or SCOs; a chain is withheld, fail closed, since a one-level check could release an
  SRO that names a withheld one).

Withheld rows are never fetched, so pages, `more`, cursors and the X-TAXII headers
reveal nothing about them (no post-filtering, no short pages).
"""

from __future__ import annotations

from liaison.policy.model import RESHARE_MAX, Visibility


_PROBE_FENCE = {"%s": " OFFSET 0"}
"""PostgreSQL only (placeholder `%s`): `OFFSET 0` keeps the marking check a per-row
index probe.  Without it the planner, which costs a page (`LIMIT 1001`) as the whole
ordered walk, hashes every row of `object_markings` once per query — time that grows
with the store (10 of the 18 ms of a partner's page at 300k objects).  SQLite always
probes per row."""


def _base(vis: Visibility, a: str, mark: str) -> tuple[str, list[object]]:
    """Rules 2–6 of `policy.decide` for the row aliased `a`."""
    tlp = f"COALESCE({a}.tlp, {int(vis.default_tlp)})"
    terms = []
    params: list[object] = [vis.org_id]
    for t in vis.terms:
        reshare = f" OR {tlp} <= {RESHARE_MAX}" if t.reshare else ""
        terms.append(f"({tlp} <= {int(t.max_tlp)} AND ({a}.origin IS NULL OR "
                     f"{a}.origin = {mark}{reshare}))")
        params.append(vis.partner_id)
    if not terms:
        return "1 = 0", []
    markings = (
        f"NOT EXISTS (SELECT 1 FROM object_markings om WHERE om.date_added = {a}.date_added "
        f"AND NOT EXISTS (SELECT 1 FROM markings m WHERE m.id = om.marking_id AND "
        f"(m.kind = 'statement' OR (m.kind = 'releasability' AND EXISTS (SELECT 1 FROM "
        f"marking_release r WHERE r.marking_id = m.id AND r.org_id = {mark}))))"
        f"{_PROBE_FENCE.get(mark, '')})"
    )
    return f"({a}.restricted = 0 AND {markings} AND ({' OR '.join(terms)}))", params


def visible_sql(vis: Visibility, alias: str, mark: str) -> tuple[str, list[object]]:
    """The whole predicate for rows aliased `alias` (AND it into the WHERE clause)."""
    if not vis.terms:
        return "1 = 0", []
    base, params = _base(vis, alias, mark)
    ends = []
    end_params: list[object] = []
    for n, col in enumerate(("ref_a", "ref_b")):
        e = f"e{n}"
        end_base, p = _base(vis, e, mark)
        ends.append(f"({alias}.{col} IS NULL OR EXISTS (SELECT 1 FROM objects {e} WHERE "
                    f"{e}.cid = {alias}.cid AND {e}.stix_id = {alias}.{col} AND "
                    f"{e}.is_latest = 1 AND {e}.ref_a IS NULL AND {e}.ref_b IS NULL AND "
                    f"({e}.public = 1 OR {end_base})))")
        end_params += p
    return (f"({alias}.public = 1 OR ({base} AND {' AND '.join(ends)}))",
            [*params, *end_params])
