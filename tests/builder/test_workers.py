"""site_builder.accel.workers: forked pools and the build's pause of garbage collection."""

from __future__ import annotations

import gc

import pytest

from site_builder.accel.workers import collection_paused, fork_pool, state_of


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


class _State:
    def __init__(self, value: object) -> None:
        self.value = value


def _value() -> object:
    return state_of(_State).value


def test_workers_are_handed_their_state_without_pickling_it():
    unpicklable = _State(lambda: "made in the parent")  # a lambda cannot be pickled
    with fork_pool(2, unpicklable) as pool:
        assert pool.apply(_call_value) == ["made in the parent"]
    with pytest.raises(RuntimeError):
        state_of(_State)  # not a worker


def _call_value() -> list[str]:
    value = _value()
    assert callable(value)
    return [value()]
