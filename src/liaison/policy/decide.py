"""`decide`: may this object version be released to this partner?  With reasons.

A pure function, mirrored rule for rule by `storage.policy_sql.visible_sql`, which
every partner read uses; the property tests hold the two in agreement.  Rules (DESIGN
"The release decision"), all of which must pass:

1. agreement   — an active agreement lets the partner read this collection;
2. markings    — every marking on the object is known to this node (unknown → withheld);
3. tlp         — the object's TLP (or the collection default when unmarked) is at most
                 the agreement's highest TLP;
4. releasable  — every releasability marking on the object lists the partner's org;
5. granular    — no granular marking restricts part of the object beyond its own
                 markings (if one does, the whole object is withheld);
6. reshare     — material received from another partner is re-shared only when the
                 agreement allows re-sharing and its TLP is CLEAR or GREEN;
7. endpoints   — a relationship's source and target, or a sighting's sighting_of_ref,
                 are themselves released (and are not relationships or sightings:
                 STIX 2.1 §5.1.1, §5.2 — a chain is withheld, fail closed).

The standard TLP marking-definitions are public: released wherever an agreement is.
Any error while deciding is a withhold (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping

from liaison.policy.model import (
    RESHARE_MAX,
    Decision,
    MarkingInfo,
    ObjectFacts,
    Reason,
    Terms,
    Visibility,
    tlp_name,
)


def _term_ok(term: Terms, tlp: int, own: bool) -> tuple[bool, bool]:
    return tlp <= term.max_tlp, own or (term.reshare and tlp <= RESHARE_MAX)


def decide(vis: Visibility | None, facts: ObjectFacts,
           registry: Mapping[str, MarkingInfo]) -> Decision:
    """The release decision for one object version and one partner's read terms."""
    try:
        return _decide(vis, facts, registry)
    except Exception as exc:  # fail closed: an error is never a release
        return Decision(False, (Reason("error", False, f"the decision failed: {exc}"),))


def _decide(vis: Visibility | None, facts: ObjectFacts,
            registry: Mapping[str, MarkingInfo]) -> Decision:
    if vis is None or not vis.terms:
        return Decision(False, (Reason("agreement", False,
                                       "no active agreement lets this partner read the collection"),))
    reasons = [Reason("agreement", True, "active agreement(s): "
                      + ", ".join(t.agreement_id for t in vis.terms))]
    if facts.public:
        reasons.append(Reason("public", True, "a standard TLP marking definition is public"))
        return Decision(True, tuple(reasons))
    unknown = [m for m in facts.markings if m not in registry]
    reasons.append(Reason("markings", not unknown,
                          "every marking is known" if not unknown
                          else "unknown marking(s): " + ", ".join(unknown)))
    tlp = facts.tlp if facts.tlp is not None else vis.default_tlp
    own = facts.origin is None or facts.origin == vis.partner_id
    results = [(t, *_term_ok(t, tlp, own)) for t in vis.terms]
    chosen = next((r for r in results if r[1] and r[2]),
                  max(results, key=lambda r: (r[1] + r[2], r[0].max_tlp)))
    term, tlp_ok, reshare_ok = chosen
    source = "its marking" if facts.tlp is not None else "the collection default (unmarked)"
    reasons.append(Reason("tlp", tlp_ok, f"{tlp_name(tlp)} from {source}; agreement "
                          f"{term.agreement_id} allows up to {tlp_name(term.max_tlp)}"))
    release = [registry[m] for m in facts.markings
               if m in registry and registry[m].kind == "releasability"]
    barred = [m.id for m in release if vis.org_id not in m.releasable_to]
    if release:
        reasons.append(Reason("releasable", not barred,
                              "releasable to the partner's organisation" if not barred
                              else "not releasable to the partner's organisation: "
                              + ", ".join(barred)))
    reasons.append(Reason("granular", not facts.restricted,
                          "no granular marking restricts part of the object" if not facts.restricted
                          else "a granular marking restricts part of the object more than its "
                          "own markings, so the whole object is withheld"))
    if own:
        detail = ("created here" if facts.origin is None
                  else "received from this same partner")
    elif reshare_ok:
        detail = "received from another partner; re-sharing allowed at this TLP"
    else:
        detail = ("received from another partner; the agreement "
                  + ("allows re-sharing only up to TLP:GREEN" if term.reshare
                     else "does not allow re-sharing"))
    reasons.append(Reason("reshare", reshare_ok, detail))
    if facts.endpoints:
        hidden = [ref for ref, ok in facts.endpoints if not ok]
        reasons.append(Reason("endpoints", not hidden,
                              "its endpoints are released" if not hidden
                              else "withheld or missing endpoint(s): " + ", ".join(hidden)))
    return Decision(all(r.passed for r in reasons), tuple(reasons))


def explain_text(decision: Decision, *, object_id: str, partner: str) -> str:
    """The decision in words, rule by rule, ending with RELEASED or WITHHELD."""
    lines = [f"Release of {object_id} to {partner}:"]
    for n, r in enumerate(decision.reasons, 1):
        lines.append(f"  {n}. {r.rule:<10} {'pass' if r.passed else 'FAIL'}  {r.detail}")
    lines.append("RELEASED" if decision.released else "WITHHELD")
    return "\n".join(lines)
