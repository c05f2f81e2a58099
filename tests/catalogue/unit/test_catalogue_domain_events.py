"""Every event the catalogue's aggregates record survives a JSON round trip through the registry."""

import json

import pytest

from tessera_catalogue.domain import MicroCredential, Pathway, PathwayDraft
from tessera_catalogue.domain.events import INTERNAL_EVENTS
from tessera_shared.contract import parse_data
from tessera_shared.contract.envelope import Envelope
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, HEIDELBERG, editor, make_draft

pytestmark = pytest.mark.unit


def every_step(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    mc.edit(editor(GENT), make_draft(title={"en": "Data Ethics"}))
    mc.propose(editor(GENT), directory)
    mc.withdraw_proposal(editor(GENT))
    mc.propose(editor(GENT), directory)
    mc.reject(editor(AMSTERDAM), "law component too short")
    mc.propose(editor(GENT), directory)
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        mc.approve(editor(institution))
    mc.publish(editor(GENT), directory)
    events = mc.take_pending()

    published = {"mc-1": mc.version_definition(1)}
    pathway = Pathway("pw-1")
    content = PathwayDraft.model_validate(
        {
            "title": {"en": "Stack"},
            "description": {"en": "One"},
            "micro_credential_ids": ["mc-1"],
            "rule": {"kind": "all_of"},
            "partners": [{"institution_id": GENT, "roles": ["coordinator", "awarding"]}],
        }
    )
    pathway.start_draft(editor(GENT), content)
    pathway.edit(editor(GENT), content)
    pathway.propose(editor(GENT), directory, published)
    pathway.withdraw_proposal(editor(GENT))
    pathway.propose(editor(GENT), directory, published)
    pathway.reject(editor(GENT), "typo")
    pathway.propose(editor(GENT), directory, published)
    pathway.approve(editor(GENT))
    pathway.publish(editor(GENT), directory, published)
    return events + pathway.take_pending()


def test_every_internal_event_round_trips(directory):
    events = every_step(directory)
    assert {type(e) for e in events} >= set(INTERNAL_EVENTS)
    for event in events:
        data = json.loads(json.dumps(event.model_dump(mode="json")))
        assert parse_data(event.event_type, data) == event
        Envelope(id="e-1", source="/tessera/catalogue", type=event.event_type, time="2025-01-01T00:00:00Z", data=data)


def test_internal_event_names():
    assert sorted(e.event_type for e in INTERNAL_EVENTS) == [
        "tessera.catalogue.micro-credential.draft-edited.v1",
        "tessera.catalogue.micro-credential.drafted.v1",
        "tessera.catalogue.micro-credential.partner-approved.v1",
        "tessera.catalogue.micro-credential.partner-rejected.v1",
        "tessera.catalogue.micro-credential.proposal-withdrawn.v1",
        "tessera.catalogue.micro-credential.proposed.v1",
        "tessera.catalogue.pathway.draft-edited.v1",
        "tessera.catalogue.pathway.drafted.v1",
        "tessera.catalogue.pathway.partner-approved.v1",
        "tessera.catalogue.pathway.partner-rejected.v1",
        "tessera.catalogue.pathway.proposal-withdrawn.v1",
        "tessera.catalogue.pathway.proposed.v1",
    ]


def test_rehydrating_from_parsed_events_gives_the_same_state(directory):
    events = every_step(directory)
    parsed = [
        parse_data(e.event_type, e.model_dump(mode="json")) for e in events if e.event_name.split(".")[2] != "pathway"
    ]
    rebuilt = MicroCredential.rehydrate("mc-1", parsed)
    assert rebuilt.status == "published"
    assert rebuilt.version_definition(1).title == {"en": "Data Ethics"}


def test_internal_events_never_reach_the_outbox():
    """Drafts and sign-off steps stay in the catalogue's store; partners see the published snapshot."""
    assert all(not e.published for e in INTERNAL_EVENTS)
