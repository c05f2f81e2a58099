"""What a thread's own event loop waits for the interpreter lock per database round trip while the
main thread runs Python, by ``sys.setswitchinterval`` (kernel ``own_loop.SWITCH_INTERVAL_MS``).

The credential service's issuance worker runs on a loop of its own (kernel ``OwnLoop``) beside a
main thread that is busy under load; after each statement it needs the lock back, which a busy
thread hands over only after the switch interval. Usage (from the repository root)::

    uv run python -m bench.gil_handover [round trips per setting, default 300]

Prints one JSON object: per switch interval, the round trip's p50 / mean / p99 in milliseconds
with a main thread spinning Python and, for reference, with an idle one. Servers as for the tests.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import asyncpg

from tessera_shared.kernel.own_loop import new_event_loop


def _spin(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for i in range(1000):
            total += i * i


async def _round_trips(dsn: str, n: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.fetchval("SELECT 1")
        out = []
        for _ in range(n):
            started = time.perf_counter()
            await conn.fetchval("SELECT 1")
            out.append((time.perf_counter() - started) * 1000)
        return out
    finally:
        await conn.close()


def _on_own_loop(dsn: str, n: int, busy_main: bool) -> dict[str, float]:
    found: list[float] = []

    def target() -> None:
        loop = new_event_loop()
        try:
            found.extend(loop.run_until_complete(_round_trips(dsn, n)))
        finally:
            loop.close()

    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(stop,)) if busy_main else None
    if spinner is not None:
        spinner.start()
    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    stop.set()
    if spinner is not None:
        spinner.join()
    found.sort()
    return {
        "p50_ms": round(statistics.median(found), 3),
        "mean_ms": round(statistics.mean(found), 3),
        "p99_ms": round(found[int(len(found) * 0.99)], 3),
    }


def measure(dsn: str, n: int) -> dict[str, object]:
    before = sys.getswitchinterval()
    result: dict[str, object] = {"round_trips": n}
    try:
        for interval_ms in (5.0, 1.0):
            sys.setswitchinterval(interval_ms / 1000)
            result[f"busy_main_switch_{interval_ms:g}_ms"] = _on_own_loop(dsn, n, busy_main=True)
        result["idle_main"] = _on_own_loop(dsn, n, busy_main=False)
    finally:
        sys.setswitchinterval(before)
    return result


if __name__ == "__main__":
    from tessera_shared.testing.servers import Servers

    servers = Servers().start()
    try:
        print(json.dumps(measure(servers.database_url, int(sys.argv[1]) if len(sys.argv) > 1 else 300), indent=2))
    finally:
        servers.stop()
