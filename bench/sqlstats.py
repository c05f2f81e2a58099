"""Round trips to PostgreSQL per background task, inside a service process (``BENCH_SQL_STATS``).

Wraps asyncpg's ``Connection._execute`` (every query with arguments, fetch*, prepared statements),
``_executemany`` and ``execute`` without arguments (BEGIN, SAVEPOINT, COMMIT ...) and accounts each
call's count and wall time (and each statement's text, its first 120 characters, with its count) to
the asyncio task that made it: the kernel names its background tasks
``<service>:<consumer|relay|projections>``; a worker on a loop and thread of its own is named by
its thread (the issuance worker ``credential:issuance``); anything else is an HTTP request. With
the events each consumer handled (the kernel's Prometheus counter), this gives statements and
database wait per consumed event.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg

_stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
_queries: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # task -> statement -> calls


_shown: dict[str, str] = {}  # statement text -> its first 120 characters, whitespace collapsed (computed once)


def _count(key: str, query: object, began: float) -> None:
    s = _stats[key]
    s[0] += 1
    s[1] += time.perf_counter() - began
    text = str(query)
    shown = _shown.get(text)
    if shown is None:
        shown = " ".join(text.split())[:120]
        if len(_shown) < 4096:  # bounded, should some statement's text ever vary
            _shown[text] = shown
    _queries[key][shown] += 1


def _key() -> str:
    thread = threading.current_thread()
    if thread is not threading.main_thread():  # a worker on a loop of its own (kernel OwnLoop)
        return thread.name
    task = asyncio.current_task()
    name = task.get_name() if task is not None else ""
    return name if ":" in name else "http requests"


def install() -> None:
    conn = asyncpg.connection.Connection
    original_execute, original_many, original_plain = conn._execute, conn._executemany, conn.execute

    async def _execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await original_execute(self, query, *args, **kwargs)
        finally:
            _count(_key(), query, t)

    async def _executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return await original_many(self, query, *args, **kwargs)
        finally:
            _count(_key(), query, t)

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if args:  # goes through _execute
            return await original_plain(self, query, *args, **kwargs)
        t = time.perf_counter()
        try:
            return await original_plain(self, query, **kwargs)
        finally:
            _count(_key(), query, t)

    conn._execute = _execute  # type: ignore[method-assign]
    conn._executemany = _executemany  # type: ignore[method-assign]
    conn.execute = execute  # type: ignore[method-assign]


def consumed() -> dict[str, dict[str, float]]:
    from tessera_shared.kernel.metrics import EVENTS_CONSUMED

    out: dict[str, dict[str, float]] = defaultdict(dict)
    for metric in EVENTS_CONSUMED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out[sample.labels.get("consumer", "?")][sample.labels.get("outcome", "?")] = sample.value
    return dict(out)


def write(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "statements": {k: {"calls": int(v[0]), "seconds": round(v[1], 3)} for k, v in sorted(_stats.items())},
                "consumed": consumed(),
                "queries": {k: dict(v) for k, v in sorted(_queries.items())},
            },
            indent=1,
        )
    )


def difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The statements and consumed events between two marks (the shape :func:`write` writes)."""
    statements = {}
    for task, s in after["statements"].items():
        was = before["statements"].get(task, {"calls": 0, "seconds": 0.0})
        if s["calls"] > was["calls"]:
            statements[task] = {"calls": s["calls"] - was["calls"], "seconds": round(s["seconds"] - was["seconds"], 3)}
    consumed: dict[str, dict[str, float]] = {}
    for consumer, outcomes in after["consumed"].items():
        was_outcomes = before["consumed"].get(consumer, {})
        delta = {k: v - was_outcomes.get(k, 0.0) for k, v in outcomes.items() if v > was_outcomes.get(k, 0.0)}
        if delta:
            consumed[consumer] = delta
    queries = {}
    for task, counts in after.get("queries", {}).items():
        was_counts = before.get("queries", {}).get(task, {})
        delta_counts = {q: n - was_counts.get(q, 0) for q, n in counts.items() if n > was_counts.get(q, 0)}
        if delta_counts:
            queries[task] = dict(sorted(delta_counts.items(), key=lambda kv: -kv[1]))
    return {"statements": statements, "consumed": consumed, "queries": queries}
