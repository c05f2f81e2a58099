"""A running catalogue service (in-process, real NATS and PostgreSQL) and a client speaking its API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tessera_catalogue.bootstrap import create_app
from tessera_catalogue.config import CatalogueSettings
from tessera_shared.testing.apps import running_service, test_settings
from tests.catalogue.integration.catalogue_api import CatalogueApi


@pytest.fixture
async def catalogue(servers, namespace, tokens) -> AsyncIterator[CatalogueApi]:
    settings = test_settings(CatalogueSettings, servers, namespace, "cat", tokens)
    async with running_service(create_app, settings) as service:
        yield CatalogueApi(service, tokens, servers.nats_url, namespace)
