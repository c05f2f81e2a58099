"""Stacking pathways: micro-credentials of several partners, versioned and signed off."""

from decimal import Decimal

import pytest

from tessera_catalogue.domain import Pathway, PathwayDraft
from tessera_catalogue.domain import events as ev
from tessera_shared.contract.catalogue import PathwayPublished
from tessera_shared.contract.criteria import evaluate_pathway
from tessera_shared.kernel.aggregate import DomainError, Forbidden
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, HEIDELBERG, LEUVEN, editor, publish_v1

pytestmark = pytest.mark.unit


def published_catalogue():
    """Three micro-credentials, each coordinated by another partner."""
    gent = publish_v1("mc-ethics").version_definition(1)
    amsterdam = gent.model_copy(update={"title": {"en": "Privacy Engineering"}})
    heidelberg = gent.model_copy(update={"title": {"en": "AI Governance"}})
    return {"mc-ethics": gent, "mc-privacy": amsterdam, "mc-ai": heidelberg}


def pathway_draft(**changes) -> PathwayDraft:
    data = {
        "title": {"en": "Responsible Data Science", "de": "Verantwortungsvolle Datenwissenschaft"},
        "description": {"en": "Any two of the three micro-credentials."},
        "micro_credential_ids": ["mc-ethics", "mc-privacy", "mc-ai"],
        "rule": {"kind": "at_least", "count": 2},
        "level": {"eqf": 7},
        "languages": ["en", "de"],
        "partners": [
            {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
            {"institution_id": AMSTERDAM, "roles": ["contributing"]},
            {"institution_id": HEIDELBERG, "roles": ["contributing", "awarding"]},
        ],
    }
    data.update(changes)
    return PathwayDraft.model_validate(data)


def test_a_pathway_from_three_partners_is_signed_off_and_published(directory):
    catalogue = published_catalogue()
    pathway = Pathway("pw-rds")
    pathway.start_draft(editor(GENT), pathway_draft())
    pathway.propose(editor(GENT), directory, catalogue)
    with pytest.raises(Forbidden):
        pathway.approve(editor(LEUVEN))
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        pathway.approve(editor(institution))
    pathway.publish(editor(GENT), directory, catalogue)
    events = pathway.take_pending()
    assert [type(e) for e in events[:2]] == [ev.PathwayDrafted, ev.PathwayProposed]
    published = events[-1]
    assert isinstance(published, PathwayPublished) and published.version == 1
    definition = published.definition
    assert [(m.micro_credential_id, m.title["en"], m.ects) for m in definition.members] == [
        ("mc-ethics", "Data Ethics for Professionals", Decimal(10)),
        ("mc-privacy", "Privacy Engineering", Decimal(10)),
        ("mc-ai", "AI Governance", Decimal(10)),
    ]
    assert definition.coordinator_id == GENT
    assert set(definition.narrative) == {"en", "de"}
    assert definition.narrative["en"].startswith(
        "To earn this credential, a learner must hold at least 2 of the following micro-credentials:"
    )
    held = {"mc-ethics": ["award-1"], "mc-ai": ["award-7"]}
    assert evaluate_pathway(definition.rule, definition.members, held).met
    rebuilt = Pathway.rehydrate("pw-rds", events)
    assert rebuilt.latest_version == 1 and rebuilt.published[1] == definition


def test_publishing_a_pathway_lists_every_problem(directory):
    catalogue = published_catalogue()
    pathway = Pathway("pw-rds")
    pathway.start_draft(
        editor(GENT),
        pathway_draft(
            description=None,
            micro_credential_ids=["mc-ethics", "mc-ethics", "mc-unknown"],
            rule={"kind": "ects_total", "minimum": "25"},
        ),
    )
    with pytest.raises(DomainError) as error:
        pathway.publish(editor(GENT), directory, catalogue)
    assert error.value.problems == [
        "description: is required",
        "micro_credential_ids[1]: mc-ethics is listed twice",
        "micro_credential_ids[2]: mc-unknown is not a published, current micro-credential",
        "rule.minimum: 25 ECTS required but only 10 ECTS listed",
        "status: version 1 has not been proposed for sign-off",
        "partners[0]: approval from ugent.be is missing",
        "partners[1]: approval from uva.nl is missing",
        "partners[2]: approval from uni-heidelberg.de is missing",
    ]


def test_at_least_n_cannot_exceed_the_listed_micro_credentials(directory):
    pathway = Pathway("pw")
    pathway.start_draft(editor(GENT), pathway_draft(rule={"kind": "at_least", "count": 4}))
    assert pathway.problems(directory, published_catalogue()) == [
        "rule.count: 4 required but only 3 micro-credentials listed"
    ]


def test_editing_a_published_pathway_opens_version_2(directory):
    catalogue = published_catalogue()
    pathway = Pathway("pw")
    pathway.start_draft(editor(GENT), pathway_draft())
    pathway.propose(editor(GENT), directory, catalogue)
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        pathway.approve(editor(institution))
    pathway.publish(editor(GENT), directory, catalogue)
    v1 = pathway.published[1]
    pathway.edit(editor(GENT), pathway_draft(rule={"kind": "all_of"}))
    assert pathway.draft_version == 2 and pathway.published[1] == v1
    assert pathway.published[1].rule.kind == "at_least"
