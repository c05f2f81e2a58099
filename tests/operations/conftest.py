"""A running consortium for the operator CLI's tests, and ``tessera`` run as a subprocess against it.

The four services run in this process on the real test servers (NATS JetStream, PostgreSQL), each
also served over HTTP by uvicorn on 127.0.0.1 at port-base + 1 … 4, as ``make run`` lays them out.
``tessera`` is the workspace's installed console script, run with the environment an operator
would give it: ``TESSERA_PORT_BASE``, ``NATS_URL``, ``NATS_NAMESPACE`` and each service's
``<SERVICE>_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI

from tessera_assessment.bootstrap import create_app as assessment_app
from tessera_assessment.config import AssessmentSettings
from tessera_catalogue.bootstrap import create_app as catalogue_app
from tessera_catalogue.config import CatalogueSettings
from tessera_credential.bootstrap import create_app as credential_app
from tessera_credential.config import CredentialSettings
from tessera_enrolment.bootstrap import create_app as enrolment_app
from tessera_enrolment.config import EnrolmentSettings
from tessera_shared.demo.api import Api, Endpoints
from tessera_shared.testing.apps import RunningService, Tokens, running_service, test_settings
from tessera_shared.testing.servers import Servers

TESSERA = Path(sys.executable).parent / "tessera"
APPS = {
    "catalogue": (catalogue_app, CatalogueSettings),
    "enrolment": (enrolment_app, EnrolmentSettings),
    "assessment": (assessment_app, AssessmentSettings),
    "credential": (credential_app, CredentialSettings),
}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


CLI_TIMEOUT = 300.0  # a command's own start imports the services: seconds on a busy 2-core machine


async def run_tessera(*args: str, env: dict[str, str]) -> Ran:
    """``tessera ARGS`` as a child process; the event loop keeps serving the services meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        str(TESSERA), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def operator_env(**extra: str) -> dict[str, str]:
    """The test process's environment without anything that would point ``tessera`` elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("DATABASE_URL") and not k.startswith(("NATS_", "TOKEN_", "TESSERA_PORT"))
    }
    env.update({"COLUMNS": "250", "NO_COLOR": "1", "LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def free_port_base() -> int:
    """A base whose ports base + 1 … 4 are all free on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 10)
        try:
            for port in range(base + 1, base + 5):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no four consecutive free ports")


@asynccontextmanager
async def serve_http(app: FastAPI, port: int) -> AsyncIterator[None]:
    """Serve an app whose lifespan already runs (``running_service``) on a real socket."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"uvicorn did not start on port {port}")
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@dataclass
class Consortium:
    services: dict[str, RunningService]
    api: Api
    port_base: int
    namespace: str
    nats_url: str
    key: Path  # the operator's private key (the services verify tokens with its public key)

    def env(self, **extra: str) -> dict[str, str]:
        values = {f"{n.upper()}_DATABASE_URL": s.settings.database_url for n, s in self.services.items()}
        values |= {
            "TESSERA_PORT_BASE": str(self.port_base),
            "NATS_URL": self.nats_url,
            "NATS_NAMESPACE": self.namespace,
        }
        return operator_env(**(values | extra))

    async def tessera(self, *args: str, **extra: str) -> Ran:
        return await run_tessera(*args, env=self.env(**extra))

    def pool(self, service: str) -> asyncpg.Pool:
        pool = self.services[service].runtime.pool
        assert pool is not None
        return pool


@pytest.fixture(scope="module")
async def consortium(servers: Servers, tokens: Tokens, tmp_path_factory: Any) -> AsyncIterator[Consortium]:
    namespace = "op" + uuid.uuid4().hex[:10]
    key = tmp_path_factory.mktemp("operator") / "operator-private.pem"
    key.write_bytes(tokens.private_pem)
    key.chmod(0o600)
    port_base = free_port_base()
    async with AsyncExitStack() as stack:
        services: dict[str, RunningService] = {}
        for i, (name, (create, settings_cls)) in enumerate(APPS.items(), start=1):
            port = port_base + i
            settings = test_settings(
                settings_cls,
                servers,
                namespace,
                name,
                tokens,
                database_pool_size=6,
                http_port=port,
                public_base_url=f"http://127.0.0.1:{port}",
            )
            services[name] = await stack.enter_async_context(running_service(create, settings))
            await stack.enter_async_context(serve_http(services[name].app, port))
        endpoints = Endpoints(**{n: s.settings.public_base_url for n, s in services.items()})
        api = await stack.enter_async_context(
            Api(endpoints, tokens.private_pem, {n: s.client for n, s in services.items()}, request_timeout=120)
        )
        yield Consortium(services, api, port_base, namespace, servers.nats_url, key)
