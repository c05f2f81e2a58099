"""The kernel's OwnLoop: a coroutine function on an event loop and thread of its own."""

import asyncio
import sys
import threading

import pytest

from tessera_shared.kernel import own_loop
from tessera_shared.kernel.own_loop import OwnLoop

pytestmark = pytest.mark.unit


async def test_main_runs_on_another_thread_and_loop_and_its_result_returns_to_the_owner():
    own = OwnLoop("test:own-loop")
    seen: dict[str, object] = {}

    async def main() -> None:
        seen["thread"] = threading.current_thread().name
        seen["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0.01)

    await own.run(main)
    assert seen["thread"] == "test:own-loop"
    assert seen["loop"] is not asyncio.get_running_loop()
    assert not own.running


async def test_an_exception_in_main_is_raised_in_the_owner():
    async def main() -> None:
        raise ValueError("broken on the own loop")

    with pytest.raises(ValueError, match="broken on the own loop"):
        await OwnLoop("test:failing").run(main)


async def test_call_soon_reaches_the_own_loop_and_stops_its_worker():
    own = OwnLoop("test:stoppable")
    assert own.call_soon(lambda: None) is False  # nothing runs there yet
    started = threading.Event()
    stop_seen_on: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()  # bound to the own loop: only call_soon may set it
        own_stop["set"] = lambda: (stop_seen_on.append(threading.current_thread().name), stop.set())
        started.set()
        await stop.wait()

    own_stop: dict[str, object] = {}
    task = asyncio.create_task(own.run(main))
    await asyncio.to_thread(started.wait, 5)
    assert own.running
    assert own.call_soon(own_stop["set"])  # type: ignore[arg-type]
    await asyncio.wait_for(task, 5)
    assert stop_seen_on == ["test:stoppable"]
    assert own.call_soon(lambda: None) is False


async def test_an_owner_cancelled_meanwhile_leaves_the_thread_to_end_quietly(monkeypatch):
    own = OwnLoop("test:orphaned")
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    finished = threading.Event()

    async def main() -> None:
        await asyncio.sleep(0.2)
        finished.set()

    task = asyncio.create_task(own.run(main))
    await asyncio.sleep(0.05)
    task.cancel()  # as Runtime.stop does after its grace period
    await asyncio.gather(task, return_exceptions=True)
    assert await asyncio.to_thread(finished.wait, 5)
    for _ in range(50):  # the thread cleans up after main returns
        if not own.running:
            break
        await asyncio.sleep(0.02)
    assert not own.running
    assert raised == []  # no InvalidStateError from answering a cancelled owner


def test_the_switch_interval_is_set_in_milliseconds():
    before = sys.getswitchinterval()
    try:
        own_loop.set_switch_interval(1.0)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        own_loop.set_switch_interval(own_loop.SWITCH_INTERVAL_MS * 5)
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)
