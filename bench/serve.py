"""``python -m bench.serve <service>``: one service's API (uvicorn on its ``create_app``), as
``tessera run`` starts it, optionally under the sampling profiler (``BENCH_PROFILE=<file>``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
