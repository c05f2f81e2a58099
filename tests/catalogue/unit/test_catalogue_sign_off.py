"""Joint sign-off: draft -> proposed -> every listed partner approves -> published as version N."""

import pytest

from tessera_catalogue.domain import MicroCredential
from tessera_catalogue.domain import events as ev
from tessera_shared.contract.catalogue import MicroCredentialVersionPublished, PartnerRole
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden, NotFound
from tests.catalogue.unit.catalogue_builders import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    LEUVEN,
    OPERATOR_ACTOR,
    editor,
    make_draft,
)

pytestmark = pytest.mark.unit


def proposed(directory) -> MicroCredential:
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    mc.propose(editor(GENT), directory)
    return mc


def test_multi_partner_sign_off_publishes_a_full_snapshot(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    assert mc.status == "draft" and mc.coordinator_id == GENT
    mc.propose(editor(GENT), directory)
    assert mc.status == "proposed"
    mc.approve(editor(AMSTERDAM, "alice"))
    mc.approve(editor(HEIDELBERG, "bernd"))
    mc.approve(editor(GENT, "carla"))
    mc.publish(editor(GENT, "carla"), directory)

    events = mc.take_pending()
    assert [type(e) for e in events] == [
        ev.MicroCredentialDrafted,
        ev.MicroCredentialProposed,
        ev.MicroCredentialPartnerApproved,
        ev.MicroCredentialPartnerApproved,
        ev.MicroCredentialPartnerApproved,
        MicroCredentialVersionPublished,
    ]
    published = events[-1]
    assert published.version == 1 and published.published_by == "carla"
    assert [(a.institution_id, a.approved_by) for a in published.approvals] == [
        (GENT, "carla"),
        (AMSTERDAM, "alice"),
        (HEIDELBERG, "bernd"),
    ]
    definition = published.definition
    assert definition.coordinator_id == GENT
    assert [p.institution_id for p in definition.awarding_bodies] == [GENT, AMSTERDAM]
    assert definition.partners[2].name == {"de": "Universität Heidelberg"}
    assert definition.partners[2].country == "DE"
    assert [(c.code, c.teaching_institution, str(c.ects), c.semester.value) for c in definition.components] == [
        ("DE1", GENT, "4", "first"),
        ("DE2", AMSTERDAM, "3", "second"),
        ("DE3", HEIDELBERG, "3", "second"),
    ]
    assert set(definition.criteria_narrative) == {"en", "nl"}
    assert "pass component DE1 (Foundations of data ethics)" in definition.criteria_narrative["en"]
    assert mc.status == "published" and mc.latest_version == 1 and mc.draft is None


def test_publishing_before_every_partner_approved_lists_each_missing_approval(directory):
    mc = proposed(directory)
    mc.approve(editor(AMSTERDAM))
    with pytest.raises(DomainError) as error:
        mc.publish(editor(GENT), directory)
    assert error.value.problems == [
        "partners[0]: approval from ugent.be is missing",
        "partners[2]: approval from uni-heidelberg.de is missing",
    ]


def test_publishing_an_unproposed_draft_is_refused_with_every_problem(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    with pytest.raises(DomainError) as error:
        mc.publish(editor(GENT), directory)
    assert error.value.problems[0] == "status: version 1 has not been proposed for sign-off"
    assert len(error.value.problems) == 4  # plus the three missing approvals


def test_an_institution_that_is_not_a_listed_partner_cannot_approve(directory):
    mc = proposed(directory)
    with pytest.raises(Forbidden):
        mc.approve(editor(LEUVEN))
    with pytest.raises(Forbidden):
        mc.reject(editor(LEUVEN), "not ours")
    with pytest.raises(Forbidden):
        mc.approve(OPERATOR_ACTOR)


def test_a_partner_approves_for_its_own_institution_only(directory):
    mc = proposed(directory)
    mc.approve(editor(AMSTERDAM))
    assert mc.approvals == {AMSTERDAM: "editor@uva.nl"}
    mc.approve(editor(AMSTERDAM, "second-editor"))  # approving twice changes nothing
    assert len(mc.take_pending()) == 3


def test_a_rejection_needs_a_reason_and_sends_the_version_back_to_draft(directory):
    mc = proposed(directory)
    mc.approve(editor(GENT))
    with pytest.raises(DomainError) as error:
        mc.reject(editor(HEIDELBERG), "  ")
    assert error.value.field == "reason"
    mc.reject(editor(HEIDELBERG), "the lab needs 4 ECTS")
    assert mc.status == "draft"
    assert mc.approvals == {}
    assert mc.last_rejection == (HEIDELBERG, "the lab needs 4 ECTS")
    with pytest.raises(Conflict):
        mc.approve(editor(AMSTERDAM))
    mc.propose(editor(GENT), directory)  # re-proposed: everyone signs again
    assert mc.approvals == {}


def test_only_the_coordinators_editors_draft_edit_propose_and_publish(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    for actor in (editor(AMSTERDAM), OPERATOR_ACTOR):
        with pytest.raises(Forbidden):
            mc.edit(actor, make_draft())
        with pytest.raises(Forbidden):
            mc.propose(actor, directory)
        with pytest.raises(Forbidden):
            mc.publish(actor, directory)
    with pytest.raises(Forbidden):
        MicroCredential("mc-2").start_draft(OPERATOR_ACTOR, make_draft())


def test_the_drafting_institution_stays_coordinator(directory):
    partners = [
        {"institution_id": AMSTERDAM, "roles": ["coordinator", "awarding"]},
        {"institution_id": GENT, "roles": ["contributing"]},
    ]
    with pytest.raises(DomainError) as error:
        MicroCredential("mc-1").start_draft(editor(GENT), make_draft(partners=partners))
    assert error.value.field == "partners"
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    with pytest.raises(DomainError):
        mc.edit(editor(GENT), make_draft(partners=partners))


def test_a_proposed_version_cannot_be_edited_until_the_proposal_is_withdrawn(directory):
    mc = proposed(directory)
    mc.approve(editor(AMSTERDAM))
    with pytest.raises(Conflict):
        mc.edit(editor(GENT), make_draft(title={"en": "Changed"}))
    mc.withdraw_proposal(editor(GENT))
    assert mc.status == "draft" and mc.approvals == {}
    mc.edit(editor(GENT), make_draft(title={"en": "Changed"}))
    assert mc.draft.title == {"en": "Changed"}


def test_proposing_is_refused_with_every_content_problem(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft(workload={"ects": "12", "notional_hours": 336}, title=None))
    with pytest.raises(DomainError) as error:
        mc.propose(editor(GENT), directory)
    assert error.value.problems == [
        "title: Annex I element 'title' is missing",
        "components: component ECTS add up to 10, not the programme's 12",
    ]
    assert mc.status == "draft"


def test_sign_off_state_rebuilds_from_history(directory):
    mc = proposed(directory)
    mc.approve(editor(AMSTERDAM))
    rebuilt = MicroCredential.rehydrate("mc-1", mc.take_pending())
    assert rebuilt.status == "proposed"
    assert rebuilt.approvals == {AMSTERDAM: "editor@uva.nl"}
    assert rebuilt.version == 3
    assert PartnerRole.COORDINATOR in rebuilt.draft.partners[0].roles


def test_commands_on_a_micro_credential_that_does_not_exist(directory):
    with pytest.raises(NotFound):
        MicroCredential("nope").approve(editor(GENT))
    with pytest.raises(Conflict):
        proposed(directory).start_draft(editor(GENT), make_draft())
