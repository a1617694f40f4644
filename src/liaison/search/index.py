"""What ingest stores for search, computed once per object version (DESIGN principle 4).

`entry` gives the normalised observable values an object mentions (SCO properties,
indicator patterns — see `search.observables` and `search.patterns`) and the three
token fields of its full-text document (`search.text`).  `writes` carries both on the
`NewVersion`, and each engine writes them in the same transaction as the object row.
"""

from __future__ import annotations

from typing import Any

from liaison.search.observables import Observable, from_sco, unique
from liaison.search.patterns import pattern_observables
from liaison.search.text import document


def observables_of(obj: dict[str, Any], category: str) -> tuple[Observable, ...]:
    """Every normalised value the object mentions (empty for most SDOs and SROs)."""
    if category == "sco":
        return unique(from_sco(obj))
    pattern = obj.get("pattern")
    if (isinstance(pattern, str) and obj.get("type") == "indicator"
            and obj.get("pattern_type") == "stix"):
        return pattern_observables(pattern)
    return ()


def entry(obj: dict[str, Any], category: str) -> tuple[tuple[Observable, ...],
                                                        tuple[str, str, str] | None]:
    """(observables, search document fields or None when there is no text at all)."""
    observed = observables_of(obj, category)
    return observed, document(obj, [o.value for o in observed] if observed else [])
