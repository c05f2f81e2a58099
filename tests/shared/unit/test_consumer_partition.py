"""How a fetched batch is split into concurrent groups (``ConsumerSpec.partition_key``)."""

import uuid
from datetime import UTC, datetime

import pytest

from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import Subscription, subject_for
from tessera_shared.kernel.consumer import Consumer, ConsumerSpec, _Item
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.unit


def item(thing_id: str, n: int) -> _Item:
    env = Envelope(
        id=str(uuid.uuid4()),
        source="/t",
        type=ThingHappened.event_type,
        subject=thing_id,
        time=datetime.now(UTC),
        data={"thing_id": thing_id, "n": n},
    )
    return _Item(subject_for(ThingHappened.event_type, ""), env.to_bytes(), {}, 1, n)


def consumer(concurrency: int, key=lambda event: event.thing_id or None) -> Consumer:
    async def handle(event, delivery):
        return None

    spec = ConsumerSpec(Subscription("tester", "kerneltest"), {ThingHappened: handle}, partition_key=key)
    return Consumer(spec, pool=None, js=None, store=None, concurrency=concurrency)  # type: ignore[arg-type]


def groups_of(c: Consumer, items: list[_Item]) -> list[list[tuple[str, int]]]:
    for it in items:
        c._decode(it)
    return [
        [(it.event.thing_id, it.event.n) if it.event else ("?", it.stream_seq) for it in g] for g in c._partition(items)
    ]


def test_one_key_goes_to_one_group_in_order_and_keys_are_dealt_round_robin():
    items = [item(k, n) for n, k in enumerate("abcadbeca", start=1)]
    assert groups_of(consumer(3), items) == [
        [("a", 1), ("a", 4), ("d", 5), ("a", 9)],
        [("b", 2), ("b", 6), ("e", 7)],
        [("c", 3), ("c", 8)],
    ]


def test_no_key_and_malformed_messages_go_to_the_first_group():
    items = [item("", 1), item("a", 2), item("b", 3), item("", 4)]
    bad = _Item(subject_for(ThingHappened.event_type, ""), b"{not json", {}, 1, 5)
    assert groups_of(consumer(2), [*items, bad]) == [[("", 1), ("a", 2), ("", 4), ("?", 5)], [("b", 3)]]


def test_without_concurrency_or_key_the_batch_stays_whole():
    items = [item(k, n) for n, k in enumerate("abc", start=1)]
    assert len(groups_of(consumer(1), items)) == 1
    assert len(groups_of(consumer(4, key=None), [item(k, n) for n, k in enumerate("abc", start=1)])) == 1


def test_a_failing_key_function_keeps_the_message_in_the_first_group():
    def key(event):
        if event.n == 2:
            raise KeyError("bug")
        return event.thing_id

    items = [item("a", 1), item("b", 2), item("c", 3)]
    assert groups_of(consumer(2, key), items) == [[("a", 1), ("b", 2)], [("c", 3)]]
