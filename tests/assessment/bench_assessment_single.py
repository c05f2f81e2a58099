"""Benchmark of single results (not a test: it reports numbers, it asserts only that requests work).

    uv run python -m tests.assessment.bench_assessment_single [--learners 600] [--concurrency 16]

Starts the same real servers as the tests (TESSERA_* URLs, else local binaries), runs the assessment
service in-process, admits the learners through real enrolment events, then sends
``POST /offerings/{id}/results`` one learner at a time: first a sequential loop (one request after
the other), then ``--concurrency`` workers at once, then a resit (attempt 2) for learners of the
first loop; then the same command without HTTP (``commands.record_result`` called directly, on
another component), one caller and ``--command-concurrency`` callers. It reports requests/s, CPU per request — this process (service, its background tasks
and the HTTP client) and the PostgreSQL server (when the harness started a local one), the figures
that a busy shared machine distorts least — and the PostgreSQL round trips the requests made (every
``Connection._execute``, ``_executemany`` and argument-less ``execute`` — BEGIN, COMMIT, the pool's
reset — made on behalf of the requests: a context variable set by the sending loop, which every task
the request spawns inherits, the pool's release included), per request. The kernel's background
tasks (relay, projections, consumers) start with their own context and are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import resource
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from tessera_assessment.application import commands
from tessera_assessment.application.rules import ResultInput
from tessera_shared.kernel.auth import Principal
from tessera_shared.testing.apps import Tokens
from tessera_shared.testing.servers import Servers
from tests.assessment.integration.assessment_world import (
    AMSTERDAM,
    GENT,
    OFFERING,
    World,
    result_body,
    running_world,
)

STATEMENTS: Counter[str] = Counter()
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="background")


def _count() -> None:
    STATEMENTS[_CALLER.get()] += 1


def install_counter() -> None:
    conn: Any = asyncpg.connection.Connection  # private methods: what every query goes through
    execute, execute_many, plain = conn._execute, conn._executemany, conn.execute

    async def _execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        _count()
        return await execute(self, *args, **kwargs)

    async def _executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        _count()
        return await execute_many(self, *args, **kwargs)

    async def _plain(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _execute
            _count()
        return await plain(self, query, *args, **kwargs)

    conn._execute = _execute
    conn._executemany = _executemany
    conn.execute = _plain


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu(servers: Servers) -> float | None:
    """CPU seconds of the local PostgreSQL: the postmaster, its reaped and its live children."""
    local = getattr(servers, "local_postgres", None)
    if local is None:
        return None
    try:
        postmaster = int((local.directory / "pgdata" / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == postmaster:
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


async def _phase(
    world: World, name: str, bodies: list[dict[str, Any]], concurrency: int, *, direct: bool = False
) -> dict[str, Any]:
    """Send ``bodies`` through HTTP, or (``direct``) to the command itself, as Amsterdam's assessor
    when the component is STAT201, else as Ghent's."""
    institution = AMSTERDAM if bodies[0]["component_code"] == "STAT201" else GENT
    headers = world.assessor(institution)
    principal = Principal(f"assessor@{institution}", institution, frozenset({"assessor"}))
    queue = list(reversed(bodies))
    latencies: list[float] = []

    async def send(body: dict[str, Any]) -> None:
        if direct:
            row = ResultInput(**{**body, "scheme_id": None, "assessed_on": date.fromisoformat(body["assessed_on"])})
            await commands.record_result(world.service.runtime, principal, OFFERING, row)
            return
        r = await world.client.post(f"/offerings/{OFFERING}/results", json=body, headers=headers)
        assert r.status_code == 201, r.text

    async def worker() -> None:
        _CALLER.set("requests")
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            await send(body)
            latencies.append(time.perf_counter() - t)

    before, background = STATEMENTS["requests"], STATEMENTS["background"]
    cpu, db_cpu = _own_cpu(), _postgres_cpu(world.servers)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = _own_cpu() - cpu
    db_after = _postgres_cpu(world.servers)
    db_ms = None if db_cpu is None or db_after is None else round(1000 * (db_after - db_cpu) / len(bodies), 2)
    latencies.sort()
    return {
        "phase": name,
        "through": "command" if direct else "http",
        "requests": len(bodies),
        "concurrency": concurrency,
        "requests_per_s": round(len(bodies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1),
        "cpu_ms_per_request": round(1000 * cpu / len(bodies), 2),
        "postgres_cpu_ms_per_request": db_ms,
        "statements_per_request": round((STATEMENTS["requests"] - before) / len(bodies), 2),
        "background_statements_per_request": round((STATEMENTS["background"] - background) / len(bodies), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP senders")
    parser.add_argument("--command-concurrency", type=int, default=8, help="concurrent direct command callers")
    args = parser.parse_args()
    install_counter()
    servers = Servers().start()
    tokens = Tokens.generate()
    learners = [f"s-{n:05d}" for n in range(args.learners)]
    half = len(learners) // 2
    try:
        async with running_world(servers, tokens, learners=learners) as world:
            warm = [result_body(learner, "DATA102", "12") for learner in learners[:20]]
            await _phase(world, "warm-up", warm, 1)
            phases = [
                await _phase(world, "sequential", [result_body(x, "DATA101", "14") for x in learners[:half]], 1),
                await _phase(
                    world,
                    "concurrent",
                    [result_body(x, "DATA101", "9") for x in learners[half:]],
                    args.concurrency,
                ),
                await _phase(world, "resit", [result_body(x, "DATA101", "11", attempt=2) for x in learners[:half]], 1),
                await _phase(
                    world, "sequential", [result_body(x, "STAT201", "7") for x in learners[:half]], 1, direct=True
                ),
                await _phase(
                    world,
                    "concurrent",
                    [result_body(x, "STAT201", "6") for x in learners[half:]],
                    args.command_concurrency,
                    direct=True,
                ),
            ]
            for p in phases:
                print(" ".join(f"{k}={v}" for k, v in p.items()))
    finally:
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
