"""``python -m bench.http_stack``: what the HTTP stack costs — the catalogue's public search and a bare
FastAPI endpoint (same JSON), served by uvicorn with whatever event loop and HTTP parser this
interpreter has (``asyncio`` + ``h11`` in the locked environment; ``uvloop`` + ``httptools`` when
run as ``uv run --with uvloop --with httptools python -m bench.http_stack``). Only the catalogue runs
(institutions and the demo's programmes seeded through its API). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench import http_load, scenario
from bench.cluster import REPO, SERVICES, Cluster
from tessera_shared.demo import seed
from tessera_shared.demo.api import Api, until
from tessera_shared.testing.servers import Servers, free_port


async def measure(servers: Servers, workdir: Path, seconds: float, concurrency: int) -> dict[str, object]:
    cluster = Cluster(servers.nats_url, servers.database_url, workdir)
    await asyncio.to_thread(cluster.start, ["catalogue"])
    catalogue = cluster.services["catalogue"]
    out: dict[str, object] = {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "load_average": os.getloadavg(),
    }
    try:
        urls = dict.fromkeys(SERVICES, catalogue.url)  # only the catalogue is called
        async with Api(scenario.endpoints_of(urls), cluster.tokens.private_pem) as api:
            tally: Counter[str] = Counter()
            await seed.register_institutions(api, tally)
            await seed.publish_programmes(api, tally)
        path, params = "/catalogue/micro-credentials", {"q": "responsible ai"}

        async def indexed() -> bool:
            async with httpx.AsyncClient(base_url=catalogue.url) as c:
                return bool((await c.get(path, params=params)).json().get("total"))

        await until(indexed, "the search read model", time.monotonic() + 60)
        async with httpx.AsyncClient(base_url=catalogue.url) as c:
            payload = (await c.get(path, params=params)).content
        (workdir / "payload.json").write_bytes(payload)
        request = http_load.build_request("GET", path, host=f"127.0.0.1:{catalogue.port}", params=params)
        out["catalogue_search"] = await http_load.closed_loop(
            "127.0.0.1", catalogue.port, [request], seconds=seconds, concurrency=concurrency
        )
        port = free_port()
        env = {
            **os.environ,
            "BENCH_BARE_PAYLOAD": str(workdir / "payload.json"),
            "HTTP_PORT": str(port),
            "PYTHONPATH": str(REPO),
        }
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare"], cwd=REPO, env=env)  # noqa: ASYNC220
        try:

            async def up() -> bool:
                try:
                    async with httpx.AsyncClient() as c:
                        return (await c.get(f"http://127.0.0.1:{port}{path}")).status_code == 200
                except httpx.HTTPError:
                    return False

            await until(up, "the bare endpoint", time.monotonic() + 60)
            request = http_load.build_request("GET", path, host=f"127.0.0.1:{port}", params=params)
            out["bare_fastapi"] = await http_load.closed_loop(
                "127.0.0.1", port, [request], seconds=seconds, concurrency=concurrency
            )
        finally:
            bare.terminate()
            bare.wait(10)
    finally:
        await asyncio.to_thread(cluster.stop)
        await cluster.drop_databases()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    servers = Servers().start()
    try:
        result = asyncio.run(
            measure(servers, Path(tempfile.mkdtemp(prefix="tessera-http-")), args.seconds, args.concurrency)
        )
    finally:
        servers.stop()
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
