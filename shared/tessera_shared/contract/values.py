"""Value types shared by the public contract: multilingual text, levels, codes, credits, money.

Decisions (documented here because partners code against them):

- **ECTS and money are** :class:`~decimal.Decimal`. Component credits must add up *exactly* to the
  programme's credits (7.5 + 2.5 + 5 == 15), fees are credits x a rate in euro cents and the award
  criteria compare sums of credits; binary floats make those comparisons depend on summation order.
  In JSON (``model_dump(mode="json")``) a Decimal is a string (``"7.5"``) so no precision is lost in
  transit; parsing accepts a JSON number or a string.
- **Multilingual text** is a ``dict`` from a BCP-47-ish language tag (``en``, ``nl-BE``, ``sr-Latn``)
  to a non-blank string, with at least one entry. Tags are normalised (``NL-be`` -> ``nl-BE``).
- **Sequences are tuples** in contract models so that a published snapshot cannot be changed in place.
- Contract models ignore unknown fields (additive changes keep the event version) and are frozen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter


class ContractModel(BaseModel):
    """Base of every value model in the contract: frozen, tolerant of fields added later."""

    model_config = ConfigDict(extra="ignore", frozen=True)


_LANGUAGE_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:-([a-zA-Z]{4}))?(?:-([a-zA-Z]{2}|[0-9]{3}))?$")


def normalise_language_tag(tag: str) -> str:
    """Check ``language[-Script][-REGION]`` (the BCP 47 subset used in catalogues) and normalise case."""
    match = _LANGUAGE_TAG.match(tag.strip())
    if match is None:
        raise ValueError(f"{tag!r} is not a language tag such as 'en', 'nl-BE' or 'sr-Latn'")
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


LanguageTag = Annotated[str, AfterValidator(normalise_language_tag)]


def _check_multilingual(text: dict[str, str]) -> dict[str, str]:
    if not text:
        raise ValueError("needs at least one language")
    for lang, value in text.items():
        if not value.strip():
            raise ValueError(f"text for {lang!r} is blank")
    return text


MultilingualText = Annotated[dict[LanguageTag, str], AfterValidator(_check_multilingual)]


def localise(text: Mapping[str, str], preferred: Iterable[str] = (), fallback: str = "en") -> str:
    """Pick the best entry: an exact preferred tag, then its primary language, then ``fallback``,
    then the alphabetically first language (deterministic)."""
    for tag in preferred:
        if tag in text:
            return text[tag]
        primary = tag.split("-")[0].lower()
        for key in sorted(text):
            if key.split("-")[0] == primary:
                return text[key]
    if fallback in text:
        return text[fallback]
    return text[min(text)]


EqfLevel = Annotated[int, Field(ge=1, le=8, description="European Qualifications Framework level 1-8")]


class QfEheaCycle(StrEnum):
    """Qualifications Framework of the European Higher Education Area cycles."""

    SHORT = "short_cycle"
    FIRST = "first_cycle"
    SECOND = "second_cycle"
    THIRD = "third_cycle"

    @property
    def eqf_level(self) -> int:
        """The EQF level the cycle corresponds to (short 5, first 6, second 7, third 8)."""
        return {"short_cycle": 5, "first_cycle": 6, "second_cycle": 7, "third_cycle": 8}[self.value]


_ISCED_BROAD = {f"{n:02d}" for n in range(11)} | {"99"}


def _check_isced_f(code: str) -> str:
    if not re.fullmatch(r"\d{2}|\d{3}|\d{4}", code) or code[:2] not in _ISCED_BROAD:
        raise ValueError(f"{code!r} is not an ISCED-F 2013 code (2, 3 or 4 digits, broad field 00-10 or 99)")
    return code


IscedFCode = Annotated[str, AfterValidator(_check_isced_f)]


def _check_esco(uri: str) -> str:
    if not re.fullmatch(r"https?://data\.europa\.eu/esco/[a-z-]+/[A-Za-z0-9._-]+", uri):
        raise ValueError(f"{uri!r} is not an ESCO URI (http://data.europa.eu/esco/skill/...)")
    return uri


EscoUri = Annotated[str, AfterValidator(_check_esco)]

Ects = Annotated[Decimal, Field(ge=0, le=999, decimal_places=2, description="ECTS credits")]
PositiveEcts = Annotated[Decimal, Field(gt=0, le=999, decimal_places=2, description="ECTS credits > 0")]
Eur = Annotated[Decimal, Field(ge=0, decimal_places=4, description="an amount in euro")]
Score = Annotated[Decimal, Field(ge=0, le=1, description="a normalised grade in [0, 1]")]
Percentage = Annotated[Decimal, Field(ge=0, le=100, description="a percentage in [0, 100]")]


def _check_schac(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", value):
        raise ValueError(f"{value!r} is not a SCHAC home organisation such as 'ugent.be'")
    return value


InstitutionId = Annotated[str, AfterValidator(_check_schac)]


def _check_erasmus(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{1,3} {1,3}[A-Z][A-Z-]{0,8}[0-9]{2,3}", value):
        raise ValueError(f"{value!r} is not an Erasmus code such as 'B  GENT01'")
    return value


ErasmusCode = Annotated[str, AfterValidator(_check_erasmus)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
RegionCode = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$", description="ISO 3166-2")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="an identifier")]

_URL = TypeAdapter(HttpUrl)


def _check_url(value: str) -> str:
    _URL.validate_python(value)  # raises a ValidationError for anything but http(s) URLs
    return value


WebUrl = Annotated[str, AfterValidator(_check_url)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


def _check_academic_year(value: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{4})", value)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise ValueError(f"{value!r} is not an academic year such as '2025-2026'")
    return value


AcademicYear = Annotated[str, AfterValidator(_check_academic_year)]


def academic_year_start(academic_year: str) -> int:
    """The calendar year in which ``academic_year`` ('2025-2026') starts."""
    return int(_check_academic_year(academic_year)[:4])


class Semester(StrEnum):
    """When a component is taught within the offering's academic year."""

    FIRST = "first"
    SECOND = "second"
    FULL_YEAR = "full_year"
