"""Institutions are registered and updated by the consortium operator only."""

import pytest

from tessera_catalogue.domain import Institution
from tessera_shared.contract.catalogue import InstitutionRegistered, InstitutionUpdated
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden, NotFound
from tests.catalogue.unit.catalogue_builders import GENT, OPERATOR_ACTOR, editor, profile

pytestmark = pytest.mark.unit


def registered() -> Institution:
    institution = Institution(GENT)
    institution.register(OPERATOR_ACTOR, profile(GENT))
    return Institution.rehydrate(GENT, institution.take_pending())


def test_operator_registers_an_institution():
    institution = Institution(GENT)
    institution.register(OPERATOR_ACTOR, profile(GENT))
    [event] = institution.take_pending()
    assert isinstance(event, InstitutionRegistered)
    assert event.institution.institution_id == "ugent.be"
    assert event.institution.erasmus_code == "B  GENT01"
    assert event.institution.region == "BE-VOV"
    assert institution.profile == event.institution


def test_a_catalogue_editor_cannot_register_or_update_institutions():
    with pytest.raises(Forbidden):
        Institution(GENT).register(editor(GENT), profile(GENT))
    with pytest.raises(Forbidden):
        registered().update(editor(GENT), profile(GENT, website="https://www.ugent.be/en"))


def test_registering_twice_is_a_conflict():
    with pytest.raises(Conflict):
        registered().register(OPERATOR_ACTOR, profile(GENT))


def test_profile_must_describe_the_institution_of_the_stream():
    with pytest.raises(DomainError) as error:
        Institution("uva.nl").register(OPERATOR_ACTOR, profile(GENT))
    assert error.value.field == "institution_id"


def test_update_records_the_full_new_profile():
    institution = registered()
    institution.update(OPERATOR_ACTOR, profile(GENT, logo_url="https://www.ugent.be/logo.svg"))
    [event] = institution.take_pending()
    assert isinstance(event, InstitutionUpdated)
    assert event.institution.logo_url == "https://www.ugent.be/logo.svg"
    assert event.institution.name == {"nl": "Universiteit Gent", "en": "Ghent University"}


def test_an_update_that_changes_nothing_records_nothing():
    institution = registered()
    institution.update(OPERATOR_ACTOR, profile(GENT))
    assert institution.take_pending() == []


def test_updating_an_unknown_institution_is_not_found():
    with pytest.raises(NotFound):
        Institution(GENT).update(OPERATOR_ACTOR, profile(GENT))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("erasmus_code", "GENT"),
        ("country", "Belgium"),
        ("region", "Flanders"),
        ("website", "not a url"),
        ("name", {}),
        ("contact", {"email": "nobody"}),
    ],
)
def test_malformed_profiles_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        profile(GENT, **{field: value})


def test_an_actor_is_built_from_the_kernels_principal():
    from tessera_catalogue.domain.actors import Actor
    from tessera_shared.kernel.auth import Principal

    actor = Actor.of(Principal(subject="u-7", institution=GENT, roles=frozenset({"catalogue-editor"})))
    assert actor == editor(GENT, "u-7")
    assert actor.is_editor_of(GENT) and not actor.is_editor_of("uva.nl")
