"""``python -m bench.bare``: the yardstick for catalogue search — a bare FastAPI endpoint on the same
machine, served the same way (uvicorn, one process), answering with the same JSON document the
catalogue's search answered (captured before the measurement, ``BENCH_BARE_PAYLOAD``), serialised on
every request like any FastAPI response. No database, no auth, no middleware (``BENCH_BARE_MIDDLEWARE=1``
adds one ``@app.middleware("http")``, as the kernel's app factory has, to price it)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

PAYLOAD: Any = json.loads(Path(os.environ["BENCH_BARE_PAYLOAD"]).read_text())
app = FastAPI()

if os.environ.get("BENCH_BARE_MIDDLEWARE"):  # the kernel's style: one @app.middleware("http") (BaseHTTPMiddleware)

    @app.middleware("http")
    async def correlation(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["X-Correlation-ID"] = request.headers.get("x-correlation-id") or "generated"
        return response


@app.get("/catalogue/micro-credentials")
async def search(q: str = "") -> Any:
    return PAYLOAD


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["HTTP_PORT"]), log_config=None, access_log=False)
