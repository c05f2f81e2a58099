"""Benchmark of the bulk upload (not a test: it reports numbers, it asserts only that uploads work).

    uv run python -m tests.assessment.bench_assessment_upload --rows 10000 --rows 50000 [--profile]

Starts the same real servers as the tests (TESSERA_* URLs, else local binaries), runs the assessment
service in-process, admits the learners through real enrolment events, and times CSV uploads of
``--rows`` rows (half DATA101, half DATA102, one result per learner and component; 1 % bad rows).
Each size runs on a fresh service and database. ``--profile`` prints the top of a cProfile of the
upload requests.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import pstats
import time

from tessera_shared.testing.apps import Tokens, eventually
from tessera_shared.testing.servers import Servers
from tests.assessment.integration.assessment_world import GENT, OFFERING, running_world


def session(rows: int) -> tuple[bytes, list[str]]:
    learners = [f"b-{n:06d}" for n in range((rows + 1) // 2)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner_id", "component_code", "attempt", "grade", "assessed_on"])
    written = 0
    for n, learner in enumerate(learners):
        for component in ("DATA101", "DATA102"):
            if written == rows:
                break
            grade = "25" if written % 100 == 99 else str((n + written) % 21)
            writer.writerow([learner, component, 1, grade, "2026-01-20"])
            written += 1
    return out.getvalue().encode(), learners


async def run(rows: int, servers: Servers, tokens: Tokens, profile: bool) -> dict[str, float]:
    body, learners = session(rows)
    setup = time.perf_counter()
    async with running_world(
        servers, tokens, learners=learners, upload_max_rows=max(rows, 50_000), upload_max_bytes=64_000_000
    ) as world:
        setup = time.perf_counter() - setup
        headers = {**world.assessor(GENT), "Content-Type": "text/csv", "Idempotency-Key": f"bench-{rows}"}
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        r = await world.client.post(f"/offerings/{OFFERING}/results/uploads", content=body, headers=headers)
        upload = time.perf_counter() - started
        if profiler:
            profiler.disable()
        assert r.status_code == 201, r.text[:500]
        accepted = r.json()["accepted"]
        started = time.perf_counter()
        again = await world.client.post(f"/offerings/{OFFERING}/results/uploads", content=body, headers=headers)
        replay = time.perf_counter() - started
        assert again.status_code == 200
        started = time.perf_counter()

        async def published() -> bool:
            return (await world.stream_info()).state.messages >= accepted

        assert await eventually(published, seconds=600)
        relay = time.perf_counter() - started

        async def projected() -> bool:
            lag = await world.fetchval(
                """SELECT (SELECT max(global_position) FROM events)
                          - COALESCE((SELECT position FROM projection_checkpoints
                                      WHERE projection = 'assessment-records'), 0)"""
            )
            return bool(lag == 0)

        assert await eventually(projected, seconds=600)
        projection = time.perf_counter() - started
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return {
            "rows": rows,
            "accepted": accepted,
            "bytes": len(body),
            "setup_s": setup,
            "upload_s": upload,
            "rows_per_s": rows / upload,
            "replay_s": replay,
            "published_after_s": relay,
            "projection_caught_up_after_s": projection,
        }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    servers = Servers().start()
    tokens = Tokens.generate()
    try:
        for rows in args.rows or [10_000]:
            result = await run(rows, servers, tokens, args.profile)
            print(" ".join(f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in result.items()))
    finally:
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
