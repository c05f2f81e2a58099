"""Vocabularies and vendored files of the ELM (European Learning Model v3) export.

Concept URIs are the EU's where they are known offline and verified (the Commission's Annex I
sample, or several independent ELM implementations agreeing): countries and languages (EU
authority tables), EQF levels, ISCED-F fields, ECTS, Europass modes of learning, the "Generic"
credential profile, base64 and PNG/JPEG. Values with no verified EU concept (assessment methods,
most supervision/identity-verification combinations, note subjects) use Tessera concepts
(`urn:tessera:concept:...`) in Tessera schemes, as the Commission's own sample does for its
assessment type (`urn:epass:concept:...`). The `EDC-generic-no-cv` profile checks structure, not
vocabulary membership.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from tessera_credential.proofs import DEFAULT_LOADER, ContextLoader

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
EDC_AP_CONTEXT = "http://data.europa.eu/snb/model/context/edc-ap"
ELM_CONTEXT: tuple[str, ...] = (CREDENTIALS_V1, EDC_AP_CONTEXT)
EDC_SHAPES_ID = "http://data.europa.eu/snb/model/ap/edc-generic-no-cv"

_FILES = {  # vendored file -> pinned SHA-256 (unmodified copies; see contexts/elm/NOTICE.md)
    "credentials-v1.jsonld": "00d7dd6d3ad8b920e3e550dd3a3d9090bffcac84cdbf943da6924b3e0a5c8bb8",
    "edc-ap-context.jsonld": "528f8a0e86dbbec7db2216c61806e6311feedac77a51d1a38b0a1d49e4c337fb",
    "EDC-generic-no-cv.ttl": "14e691293cad67283301f032b946fdf104687547327bfd0eef747afa3316115d",
}


def elm_file(name: str) -> Path:
    """Path of a vendored ELM file, after checking its pinned SHA-256."""
    path = Path(str(resources.files("tessera_credential").joinpath("contexts").joinpath("elm").joinpath(name)))
    if hashlib.sha256(path.read_bytes()).hexdigest() != _FILES[name]:
        raise RuntimeError(f"vendored ELM file {name} does not match its pinned SHA-256")
    return path


@cache
def elm_loader() -> ContextLoader:
    """The production context loader plus the two contexts the ELM export uses (never fetched)."""
    return DEFAULT_LOADER.with_extra(
        {
            CREDENTIALS_V1: elm_file("credentials-v1.jsonld"),
            EDC_AP_CONTEXT: elm_file("edc-ap-context.jsonld"),
        }
    )


# --------------------------------------------------------------------------------------- schemes
COUNTRY_SCHEME = "http://publications.europa.eu/resource/authority/country"
LANGUAGE_SCHEME = "http://publications.europa.eu/resource/authority/language"
FILE_TYPE_SCHEME = "http://publications.europa.eu/resource/authority/file-type"
EQF_SCHEME = "http://data.europa.eu/snb/eqf/25831c2"
ISCED_SCHEME = "http://data.europa.eu/snb/isced-f/25831c2"
CREDIT_SCHEME = "http://data.europa.eu/snb/education-credit/25831c2"
MODE_SCHEME = "http://data.europa.eu/snb/learning-assessment/25831c2"
SUPERVISION_SCHEME = "http://data.europa.eu/snb/supervision-verification/25831c2"
CREDENTIAL_SCHEME = "http://data.europa.eu/snb/credential/25831c2"
ENCODING_SCHEME = "http://data.europa.eu/snb/encoding/25831c2"
LEARNING_OPPORTUNITY_SCHEME = "http://data.europa.eu/snb/learning-opportunity/25831c2"
ESCO_SKILLS_SCHEME = "http://data.europa.eu/esco/concept-scheme/skills"

GENERIC_PROFILE = "http://data.europa.eu/snb/credential/e34929035b"
BASE64_ENCODING = "http://data.europa.eu/snb/encoding/6146cde7dd"
ECTS = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
SHORT_LEARNING_PROGRAMME = "http://data.europa.eu/snb/learning-opportunity/74a4a268e8"
FILE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}

TESSERA_CONCEPT = "urn:tessera:concept:{scheme}:{value}"
TESSERA_SCHEME = "urn:tessera:concept-scheme:{scheme}"

# ISO 3166-1 alpha-2 -> (EU authority code = alpha-3, English name): EU, EEA, candidates, neighbours.
COUNTRIES: dict[str, tuple[str, str]] = {
    "AT": ("AUT", "Austria"),
    "BE": ("BEL", "Belgium"),
    "BG": ("BGR", "Bulgaria"),
    "HR": ("HRV", "Croatia"),
    "CY": ("CYP", "Cyprus"),
    "CZ": ("CZE", "Czechia"),
    "DK": ("DNK", "Denmark"),
    "EE": ("EST", "Estonia"),
    "FI": ("FIN", "Finland"),
    "FR": ("FRA", "France"),
    "DE": ("DEU", "Germany"),
    "GR": ("GRC", "Greece"),
    "HU": ("HUN", "Hungary"),
    "IE": ("IRL", "Ireland"),
    "IT": ("ITA", "Italy"),
    "LV": ("LVA", "Latvia"),
    "LT": ("LTU", "Lithuania"),
    "LU": ("LUX", "Luxembourg"),
    "MT": ("MLT", "Malta"),
    "NL": ("NLD", "Netherlands"),
    "PL": ("POL", "Poland"),
    "PT": ("PRT", "Portugal"),
    "RO": ("ROU", "Romania"),
    "SK": ("SVK", "Slovakia"),
    "SI": ("SVN", "Slovenia"),
    "ES": ("ESP", "Spain"),
    "SE": ("SWE", "Sweden"),
    "IS": ("ISL", "Iceland"),
    "LI": ("LIE", "Liechtenstein"),
    "NO": ("NOR", "Norway"),
    "CH": ("CHE", "Switzerland"),
    "GB": ("GBR", "United Kingdom"),
    "AL": ("ALB", "Albania"),
    "BA": ("BIH", "Bosnia and Herzegovina"),
    "ME": ("MNE", "Montenegro"),
    "MK": ("MKD", "North Macedonia"),
    "RS": ("SRB", "Serbia"),
    "TR": ("TUR", "Türkiye"),
    "UA": ("UKR", "Ukraine"),
    "MD": ("MDA", "Moldova"),
    "GE": ("GEO", "Georgia"),
    "AD": ("AND", "Andorra"),
    "MC": ("MCO", "Monaco"),
    "SM": ("SMR", "San Marino"),
    "VA": ("VAT", "Holy See"),
}
# ISO 639-1 -> (EU authority language code, English name): the 24 official EU languages.
LANGUAGES: dict[str, tuple[str, str]] = {
    "bg": ("BUL", "Bulgarian"),
    "hr": ("HRV", "Croatian"),
    "cs": ("CES", "Czech"),
    "da": ("DAN", "Danish"),
    "nl": ("NLD", "Dutch"),
    "en": ("ENG", "English"),
    "et": ("EST", "Estonian"),
    "fi": ("FIN", "Finnish"),
    "fr": ("FRA", "French"),
    "de": ("DEU", "German"),
    "el": ("ELL", "Greek"),
    "hu": ("HUN", "Hungarian"),
    "ga": ("GLE", "Irish"),
    "it": ("ITA", "Italian"),
    "lv": ("LAV", "Latvian"),
    "lt": ("LIT", "Lithuanian"),
    "mt": ("MLT", "Maltese"),
    "pl": ("POL", "Polish"),
    "pt": ("POR", "Portuguese"),
    "ro": ("RON", "Romanian"),
    "sk": ("SLK", "Slovak"),
    "sl": ("SLV", "Slovenian"),
    "es": ("SPA", "Spanish"),
    "sv": ("SWE", "Swedish"),
}


def concept(uri: str, scheme: str, label: str | None = None, notation: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": uri, "type": "Concept", "inScheme": {"id": scheme, "type": "ConceptScheme"}}
    if notation:
        out["notation"] = notation
    if label:
        out["prefLabel"] = {"en": label}
    return out


def tessera_concept(scheme: str, value: str, label: str) -> dict[str, Any]:
    return concept(TESSERA_CONCEPT.format(scheme=scheme, value=value), TESSERA_SCHEME.format(scheme=scheme), label)


def country_concept(alpha2: str) -> dict[str, Any] | None:
    entry = COUNTRIES.get(alpha2)
    return concept(f"{COUNTRY_SCHEME}/{entry[0]}", COUNTRY_SCHEME, entry[1], "country") if entry else None


def language_concept(tag: str) -> dict[str, Any] | None:
    entry = LANGUAGES.get(tag.split("-")[0].lower())
    return concept(f"{LANGUAGE_SCHEME}/{entry[0]}", LANGUAGE_SCHEME, entry[1], "language") if entry else None
