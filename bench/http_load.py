"""A minimal keep-alive HTTP/1.1 load generator on asyncio streams.

httpx's async client costs several milliseconds of CPU per request on this machine and degrades
with many pooled connections (measured: a trivial FastAPI endpoint answered 79 requests/s over one
httpx connection and 47/s over 32), so it would measure itself rather than the server. This client
pre-builds each request's bytes, keeps ``concurrency`` connections open and reads responses by
``Content-Length`` (what uvicorn sends for every non-streaming response).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode


def build_request(
    method: str,
    path: str,
    *,
    host: str,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    target = path + ("?" + urlencode(params) if params else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: keep-alive", "Accept: */*"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, bytes(body)
            body += await reader.readexactly(size + 2)
            del body[-2:]
    return status, await reader.readexactly(length) if length else b""


class Connections:
    """Keep-alive connections for an open-loop load: a request takes an idle connection or opens
    a new one, so as many are open as requests are in flight (no client-side queue)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, data: bytes) -> tuple[int, bytes]:
        reused = bool(self.idle)
        reader, writer = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(data)
            status, body = await _read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            answered = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
            if not reused or answered:
                raise
            # an idle connection the server had closed (keep-alive timeout) before answering a
            # single byte: the request never reached the application, so it goes again
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(data)
                status, body = await _read_response(reader)
            except BaseException:
                writer.close()
                raise
        self.idle.append((reader, writer))
        return status, body

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    seconds: float,
    concurrency: int,
    check: Callable[[int, bytes], bool] | None = None,
    once: bool = False,
) -> dict[str, Any]:
    """``concurrency`` connections each send the next request when the previous answered, for
    ``seconds``. ``check(status, body)`` counts a response as good (default: 2xx). ``once``: each
    request is sent at most once (the run also ends when they are used up), e.g. to keep any cache
    in the server cold."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    good = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal counter, good
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                if once and counter >= len(requests):
                    break
                counter += 1
                t = time.perf_counter()
                writer.write(requests[counter % len(requests)])
                try:
                    status, body = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    statuses[-1] = statuses.get(-1, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append((time.perf_counter() - t) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if check(status, body) if check else 200 <= status < 300:
                    good += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))], 1) if latencies else None

    return {
        "requests": sum(statuses.values()),
        "ok": good,
        "per_s": round(good / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 2),
        "concurrency": concurrency,
        "latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99)},
    }
