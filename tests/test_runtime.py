"""The server process's collector settings (`liaison.runtime`)."""

from __future__ import annotations

import gc

from liaison.runtime import GEN0_THRESHOLD, tune_gc


def test_tune_gc_raises_the_first_threshold_and_freezes_start_up_objects() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
