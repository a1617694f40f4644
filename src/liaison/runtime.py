"""Process settings for a long-running server process (`liaison serve`, each worker).

The cyclic garbage collector: a posted envelope of 1,000 objects allocates tens of
thousands of dicts and lists that die young and hold no cycles.  With CPython's
default first threshold (700 allocations) the collector runs dozens of times per
envelope and every tenth run walks the older generations too; measured on the ingest
path it took about a tenth of the time.  A larger first threshold keeps collections
rare, and `gc.freeze()` moves what start-up built (modules, the app, caches) out of
the collector's sight for good.  Reference counting still frees everything at once;
only cycles wait a little longer.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Call once the application is built, before serving."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
