"""Chaos delivery: duplicates (some concurrent, some late), reordering within a window,
reproducible from a seed; switchable at run time and over `/_local/chaos`."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from stripe_local.server import LocalStripe
from stripe_local.webhooks import Chaos

from .conftest import Receiver

NONE_EXTRA = (1.0,)  # weights: always exactly one copy


def _server(receiver: Receiver, chaos: Chaos, **options: object) -> LocalStripe:
    return LocalStripe(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        delivery="hold",
        delivery_concurrency=options.pop("concurrency", 1),  # type: ignore[arg-type]
        chaos=chaos,
        **options,  # type: ignore[arg-type]
    )


def _make_events(server: LocalStripe, count: int) -> list[str]:
    client = server.client()
    for n in range(count):
        client.v1.products.create({"name": f"P{n}"})
    held = [e["id"] for e in server.events()]
    assert len(held) == count
    return held


def test_every_delivery_is_sent_several_times_some_concurrently(receiver: Receiver) -> None:
    receiver.delay = 0.05
    chaos = Chaos(seed=3, copies=(0, 0, 0, 0, 1), concurrent=1.0, window=1)
    with _server(receiver, chaos, concurrency=4) as server:
        held = _make_events(server, 6)
        server.flush()
        assert server.wait_settled(10)
        counts = Counter(receiver.ids())
        assert counts == {event_id: 5 for event_id in held}
        assert receiver.max_in_flight >= 5  # five copies of one event at the same moment
        stats = server.delivery_stats()
        assert (stats.deliveries, stats.attempts, stats.duplicates) == (6, 30, 24)
        assert sum(d.duplicate for d in server.delivery_log) == 24


def test_late_duplicates_arrive_after_later_events(receiver: Receiver) -> None:
    chaos = Chaos(seed=5, copies=(0, 1), concurrent=0.0, late_within=0.3, window=1)
    with _server(receiver, chaos) as server:
        held = _make_events(server, 10)
        server.flush()
        assert server.wait_settled(10)
        ids = receiver.ids()
        assert Counter(ids) == {event_id: 2 for event_id in held}
        firsts = [e for n, e in enumerate(ids) if e not in ids[:n]]
        assert firsts == held  # one at a time, in order (window 1)
        lates = [e for n, e in enumerate(ids) if e in ids[:n]]
        assert lates != held  # the late copies came back in another order
        assert sum(d.duplicate for d in server.delivery_log) == 10


def test_the_copy_count_follows_the_weights(receiver: Receiver) -> None:
    chaos = Chaos(seed=11, copies=(0.5, 0.3, 0.2), concurrent=1.0, window=1)
    with _server(receiver, chaos, concurrency=8) as server:
        held = _make_events(server, 60)
        server.flush()
        assert server.wait_settled(20)
        per_event = Counter(Counter(receiver.ids()).values())
        assert set(per_event) <= {1, 2, 3} and sum(per_event.values()) == len(held)
        assert per_event[1] > per_event[3]  # one copy is the commonest, three the rarest


def test_events_are_reordered_within_the_window(receiver: Receiver) -> None:
    chaos = Chaos(seed=1, copies=NONE_EXTRA, window=6)
    with _server(receiver, chaos) as server:
        held = _make_events(server, 30)
        server.flush()  # one batch: the worker sees all 30 at once
        assert server.wait_settled(10)
        order = receiver.ids()
    assert sorted(order) == sorted(held) and order != held
    for position, event_id in enumerate(order):
        # Nothing overtakes more than window - 1 events that came before it.
        assert position >= held.index(event_id) - 5


def test_the_same_seed_gives_the_same_plan() -> None:
    def permutation(seed: int) -> list[int]:
        receiver = Receiver()
        from stripe_local.asgi_thread import serving

        with serving(receiver.app()) as thread:
            receiver.server = thread
            chaos = Chaos(seed=seed, copies=(0.6, 0.4), concurrent=0.0, late_within=0, window=5)
            with _server(receiver, chaos) as server:
                held = _make_events(server, 20)
                server.flush()
                assert server.wait_settled(10)
                return [held.index(e) for e in receiver.ids()]

    assert permutation(42) == permutation(42)
    assert permutation(42) != permutation(43)


def test_chaos_can_be_switched_on_and_off(local: LocalStripe, receiver: Receiver) -> None:
    client = local.client()
    with httpx.Client(base_url=local.url, trust_env=False) as http:
        answer = http.post("/_local/chaos", json={"seed": 9, "copies": [0, 1], "concurrent": 1})
        assert answer.json()["chaos"]["copies"] == [0.0, 1.0]
        client.v1.products.create({"name": "Twice"})
        assert local.wait_settled(5)
        assert len(receiver.ids()) == 2 and len(set(receiver.ids())) == 1
        assert http.post("/_local/chaos", json={"off": True}).json() == {"chaos": None}
        receiver.clear()
        client.v1.products.create({"name": "Once"})
        assert local.wait_settled(5)
        assert len(receiver.ids()) == 1
        bad = http.post("/_local/chaos", json={"copies": [0, 0]})
        assert bad.status_code == 400 and "copies" in bad.json()["error"]["message"]
        bad = http.post("/_local/chaos", json={"colour": "red"})
        assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]
    local.set_chaos(Chaos(seed=1, copies=(0, 0, 1), concurrent=1.0))
    receiver.clear()
    client.v1.products.create({"name": "Thrice"})
    assert local.wait_settled(5)
    assert len(receiver.ids()) == 3


@pytest.mark.parametrize(
    "settings",
    [
        {"copies": ()},
        {"copies": (-1, 1)},
        {"concurrent": 1.5},
        {"late_within": -1},
        {"window": 0},
    ],
)
def test_chaos_settings_are_checked(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Chaos(**settings)  # type: ignore[arg-type]
