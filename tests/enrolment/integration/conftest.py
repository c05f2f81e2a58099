"""The enrolment service running in-process against the real test servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tessera_enrolment.bootstrap import create_app
from tessera_enrolment.config import EnrolmentSettings
from tessera_shared.kernel.nats import connect, ensure_stream, stream_config
from tessera_shared.testing.apps import Tokens, running_service, test_settings
from tessera_shared.testing.servers import Servers
from tests.enrolment.enrolment_builders import ENROL_DAY
from tests.enrolment.integration.enrolment_harness import Enrolment


@pytest.fixture
async def svc(servers: Servers, namespace: str, tokens: Tokens) -> AsyncIterator[Enrolment]:
    settings = test_settings(EnrolmentSettings, servers, namespace, "enrolment", tokens, database_pool_size=10)
    # The streams the service consumes exist before it starts (their owners would have made them), so
    # its consumers start at once rather than waiting for them.
    nc = await connect(servers.nats_url)
    try:
        for context in ("catalogue", "credential"):
            await ensure_stream(nc.jetstream(), stream_config(context, namespace))
    finally:
        await nc.close()
    async with running_service(create_app, settings) as running:
        harness = Enrolment(running, servers, namespace, tokens)
        harness.clock.freeze(ENROL_DAY)
        yield harness
