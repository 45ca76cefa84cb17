"""site_builder.workers: forked pools and the build's pause of garbage collection."""

from __future__ import annotations

import gc

from site_builder.workers import collection_paused, fork_pool


def test_workers_collect_garbage_while_the_build_pauses_it_and_skip_inherited_objects():
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with fork_pool(1) as pool:
            assert pool.apply(gc.isenabled) is True
            assert pool.apply(gc.get_freeze_count) > 0, "inherited objects are frozen"
        assert gc.get_freeze_count() == 0, "the parent's objects are collectable again"
    assert gc.isenabled()


def test_a_pause_keeps_collection_off_when_it_was_off():
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
