"""Version N never changes; editing a published micro-credential opens draft N+1; retiring."""

import pytest
from pydantic import ValidationError

from tessera_catalogue.domain import MicroCredential
from tessera_catalogue.domain import events as ev
from tessera_shared.contract.catalogue import MicroCredentialRetired, MicroCredentialVersionPublished
from tessera_shared.kernel.aggregate import Conflict, Forbidden, NotFound
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, HEIDELBERG, editor, make_draft, publish_v1

pytestmark = pytest.mark.unit


def test_editing_a_published_micro_credential_starts_draft_n_plus_1_and_leaves_n_untouched(directory):
    mc = publish_v1()
    v1 = mc.version_definition(1)
    v1_json = v1.model_dump(mode="json")

    mc.edit(editor(GENT), make_draft(title={"en": "Data Ethics, 2nd edition"}))
    [drafted] = mc.take_pending()
    assert isinstance(drafted, ev.MicroCredentialDrafted) and drafted.version == 2
    assert mc.status == "draft" and mc.draft_version == 2
    assert mc.version_definition(1).model_dump(mode="json") == v1_json
    assert mc.version_definition(1).title == {
        "en": "Data Ethics for Professionals",
        "nl": "Data-ethiek voor professionals",
    }

    mc.propose(editor(GENT), directory)
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        mc.approve(editor(institution))
    mc.publish(editor(GENT), directory)
    published = mc.take_pending()[-1]
    assert isinstance(published, MicroCredentialVersionPublished) and published.version == 2
    assert mc.latest_version == 2
    assert mc.version_definition(2).title == {"en": "Data Ethics, 2nd edition"}
    assert mc.version_definition(1).model_dump(mode="json") == v1_json


def test_a_published_snapshot_cannot_be_changed_in_place():
    definition = publish_v1().version_definition(1)
    with pytest.raises(ValidationError):
        definition.title = {"en": "tampered"}
    with pytest.raises(ValidationError):
        definition.components[0].ects = 30
    with pytest.raises(AttributeError):
        definition.components.append(definition.components[0])  # tuples, not lists


def test_published_versions_rebuild_from_history(directory):
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    mc.propose(editor(GENT), directory)
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        mc.approve(editor(institution))
    mc.publish(editor(GENT), directory)
    mc.edit(editor(GENT), make_draft(title={"en": "v2"}))
    history = mc.take_pending()
    rebuilt = MicroCredential.rehydrate("mc-1", history)
    assert rebuilt.latest_version == 1 and rebuilt.draft_version == 2
    assert rebuilt.version_definition(1) == history[5].definition
    with pytest.raises(NotFound):
        rebuilt.version_definition(2)


def test_an_edit_based_on_a_stale_version_is_a_conflict():
    mc = publish_v1()
    seen = mc.version
    mc.edit(editor(GENT), make_draft(title={"en": "first editor"}), expected_version=seen)
    with pytest.raises(Conflict) as error:
        mc.edit(editor(GENT), make_draft(title={"en": "second editor"}), expected_version=seen - 1)
    assert error.value.field == "version"


def test_retiring_stops_editing_and_keeps_the_published_versions():
    mc = publish_v1()
    with pytest.raises(Forbidden):
        mc.retire(editor(AMSTERDAM))
    mc.edit(editor(GENT), make_draft(title={"en": "abandoned"}))
    mc.retire(editor(GENT), "superseded by a new programme")
    event = mc.take_pending()[-1]
    assert isinstance(event, MicroCredentialRetired)
    assert (event.last_version, event.reason, event.retired_by) == (
        1,
        "superseded by a new programme",
        "editor@ugent.be",
    )
    assert mc.status == "retired" and mc.draft is None
    assert mc.version_definition(1).title["en"] == "Data Ethics for Professionals"
    with pytest.raises(Conflict):
        mc.edit(editor(GENT), make_draft())
    with pytest.raises(Conflict):
        mc.retire(editor(GENT))


def test_a_never_published_micro_credential_cannot_be_retired():
    mc = MicroCredential("mc-1")
    mc.start_draft(editor(GENT), make_draft())
    with pytest.raises(Conflict):
        mc.retire(editor(GENT))
