"""Each service's AsyncAPI document is generated (FastStream) and names what it publishes and consumes."""

import json

import pytest

from tessera_shared.kernel.asyncapi import asyncapi_json

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("service", ["catalogue", "enrolment", "assessment", "credential"])
def test_asyncapi_document_lists_published_and_consumed_events(service):
    bootstrap = __import__(f"tessera_{service}.bootstrap", fromlist=["build"])
    definition = bootstrap.build()
    doc = json.loads(asyncapi_json(definition))
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    published = {a for a in addresses if a.startswith(f"tessera.{service}.")}
    assert published, "a service publishes its own context's events"
    for spec in definition.consumers:
        for model in spec.handlers:
            assert model.event_type in addresses
