"""``python -m bench.serve <service>``: one service's API (uvicorn on its ``create_app``), as
``tessera run`` starts it, optionally under the sampling profiler (``BENCH_PROFILE=<file>``) and
counting its SQL round trips (``BENCH_SQL_STATS=<file>``); SIGUSR1 marks a phase (``mark``)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType


def main() -> None:
    name = sys.argv[1]
    import uvicorn

    profile = os.environ.get("BENCH_PROFILE")
    sql_stats = os.environ.get("BENCH_SQL_STATS")
    if sql_stats:
        from bench import sqlstats

        sqlstats.install()
    sampler = None
    if profile:
        from bench.sampler import Sampler

        sampler = Sampler()
        sampler.start()
    marks = 0

    def mark(signum: int, frame: FrameType | None) -> None:
        """SIGUSR1 (``Cluster.mark``): write the counts so far beside the final files, as
        ``<file>.mark<k>.json``; two marks give one phase of the run."""
        nonlocal marks
        marks += 1
        # each file appears whole (renamed into place), the profile last: the bench waits for it
        if sql_stats:
            done = Path(sql_stats).with_suffix(f".mark{marks}.json")
            sqlstats.write(done.with_suffix(".tmp"))
            done.with_suffix(".tmp").replace(done)
        if sampler is not None:
            done = Path(profile).with_suffix(f".mark{marks}.json")  # type: ignore[arg-type]
            sampler.mark(done.with_suffix(".tmp"))
            done.with_suffix(".tmp").replace(done)

    signal.signal(signal.SIGUSR1, mark)
    try:
        uvicorn.run(
            f"tessera_{name}.bootstrap:create_app",
            factory=True,
            host=os.environ.get("HTTP_HOST", "127.0.0.1"),
            port=int(os.environ["HTTP_PORT"]),
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    finally:
        if sql_stats:
            sqlstats.write(Path(sql_stats))
        if sampler is not None:
            sampler.stop()
            sampler.write(Path(profile))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
