"""Shared value types of the contract."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from tessera_shared.contract.values import (
    AcademicYear,
    Ects,
    EqfLevel,
    ErasmusCode,
    EscoUri,
    InstitutionId,
    IscedFCode,
    MultilingualText,
    QfEheaCycle,
    academic_year_start,
    localise,
    normalise_language_tag,
)

pytestmark = pytest.mark.unit


class Sample(BaseModel):
    text: MultilingualText | None = None
    eqf: EqfLevel | None = None
    isced: IscedFCode | None = None
    esco: EscoUri | None = None
    ects: Ects | None = None
    institution: InstitutionId | None = None
    erasmus: ErasmusCode | None = None
    year: AcademicYear | None = None


@pytest.mark.parametrize(
    ("tag", "normalised"),
    [("en", "en"), ("NL-be", "nl-BE"), ("sr-latn-rs", "sr-Latn-RS"), ("es-419", "es-419"), ("gsw", "gsw")],
)
def test_language_tags_are_normalised(tag, normalised):
    assert normalise_language_tag(tag) == normalised


@pytest.mark.parametrize("tag", ["english", "e", "en_GB", "en-", "12", "en-GB-x"])
def test_malformed_language_tags_are_refused(tag):
    with pytest.raises(ValueError):
        normalise_language_tag(tag)


def test_multilingual_text_validates_keys_and_values():
    assert Sample(text={"NL-be": "Gent", "en": "Ghent"}).text == {"nl-BE": "Gent", "en": "Ghent"}
    for bad in ({}, {"en": "  "}, {"english": "Ghent"}):
        with pytest.raises(ValidationError):
            Sample(text=bad)


def test_localise_falls_back_deterministically():
    text = {"nl": "Gent", "en": "Ghent", "fr": "Gand"}
    assert localise(text, ["fr-BE"]) == "Gand"
    assert localise(text, ["de"]) == "Ghent"
    assert localise({"nl": "Gent", "fr": "Gand"}, ["de"]) == "Gand"  # no English: first tag alphabetically


def test_eqf_and_qf_ehea():
    assert Sample(eqf=8).eqf == 8
    for bad in (0, 9):
        with pytest.raises(ValidationError):
            Sample(eqf=bad)
    assert [c.eqf_level for c in QfEheaCycle] == [5, 6, 7, 8]


@pytest.mark.parametrize("code", ["06", "061", "0613", "10", "1041", "99"])
def test_isced_f_codes(code):
    assert Sample(isced=code).isced == code


@pytest.mark.parametrize("code", ["6", "11", "00000", "0a1", "1234"])
def test_bad_isced_f_codes(code):
    with pytest.raises(ValidationError):
        Sample(isced=code)


def test_esco_uris():
    uri = "http://data.europa.eu/esco/skill/5b4a5c1a-2a2e-4a43-9d0e-4f4d1e9f3c11"
    assert Sample(esco=uri).esco == uri
    with pytest.raises(ValidationError):
        Sample(esco="https://example.org/esco/skill/1")


def test_ects_are_exact_decimals():
    assert Sample(ects="7.5").ects + Sample(ects=2.5).ects == Decimal(10)
    assert Sample(ects=0.1).ects + Sample(ects=0.2).ects == Decimal("0.3")
    assert Sample(ects="7.5").model_dump(mode="json")["ects"] == "7.5"
    for bad in ("-1", "1.005"):
        with pytest.raises(ValidationError):
            Sample(ects=bad)


def test_institution_identifiers():
    assert Sample(institution="uni-heidelberg.de", erasmus="D  HEIDELB01").erasmus == "D  HEIDELB01"
    for bad in ({"institution": "UGent"}, {"institution": "ugent"}, {"erasmus": "BGENT"}):
        with pytest.raises(ValidationError):
            Sample(**bad)


def test_academic_year():
    assert academic_year_start("2025-2026") == 2025
    with pytest.raises(ValidationError):
        Sample(year="2025-2027")
