"""Building blocks shared by the OB 3.0, CLR 2.0 and pathway documents.

Type conventions (both 1EdTech schemas, and the undefined-term guard): every object carries its
`type`; `type` is an array except where both schemas demand a single string (`IdentityObject`,
`IdentifierEntry`, `Image`, `credentialStatus`, `credentialSchema` and proofs). List-valued
properties are always arrays. Numbers are JSON integers when integral (7, not 7.0): JSON-LD turns a
JSON double into a different RDF literal than an integer, and JavaScript verifiers cannot tell 7.0
from 7, so an integral double would canonicalize differently there.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tessera_credential.documents.inputs import InstitutionRef, LearnerIdentity, StatusEntry
from tessera_credential.proofs.contexts import CLR_V2P0, CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS

OB3_CONTEXT: tuple[str, ...] = (CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS)
CLR_CONTEXT: tuple[str, ...] = (CREDENTIALS_V2, CLR_V2P0, OB_V3P0, OB_V3P0_EXTENSIONS)
SCHEMA_VALIDATOR = "1EdTechJsonSchemaValidator2019"
# Both published ids of the OB 3.0 AchievementCredential schema (the JSON one and the JSON-LD one).
OB3_SCHEMA_IDS: tuple[str, ...] = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json-ld/ob_v3p0_achievementcredential_schema.json",
)
CLR_SCHEMA_IDS: tuple[str, ...] = (
    "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json",
)
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"


def xsd_datetime(moment: datetime) -> str:
    """`2025-06-30T12:00:00Z`: UTC, second precision (what every verifier parses the same way)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` calendar months later, clamped to the month's last day (31 Jan + 1 -> 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def pick_text(text: Mapping[str, str], preferred: Sequence[str]) -> tuple[str, str]:
    """(language tag, text): an exact preferred tag, then its primary language, then English, then the
    alphabetically first language — deterministic, like `tessera_shared...values.localise`."""
    for tag in preferred:
        if tag in text:
            return tag, text[tag]
        primary = tag.split("-")[0].lower()
        for key in sorted(text):
            if key.split("-")[0].lower() == primary:
                return key, text[key]
    if "en" in text:
        return "en", text["en"]
    first = min(text)
    return first, text[first]


def json_number(value: Decimal | float | int) -> int | float:
    """An integral value as a JSON integer, anything else as a double (see the module docstring)."""
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    if decimal == decimal.to_integral_value():
        return int(decimal)
    return float(decimal)


def decimal_text(value: Decimal | float) -> str:
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(decimal.normalize(), "f")


def hash_identity(value: str, salt: str) -> str:
    """OB identity hash: "sha256$" + hex(SHA-256(value + salt)) (e-mails are trimmed and lower-cased first)."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def identity_objects(learner: LearnerIdentity) -> list[dict[str, Any]]:
    """Learner identification (Annex I): the name in clear, the e-mail and the ESI salted and hashed."""
    items: list[dict[str, Any]] = [
        {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": learner.full_name},
        {
            "type": "IdentityObject",
            "identityType": "emailAddress",
            "hashed": True,
            "identityHash": hash_identity(normalise_email(learner.email), learner.salt),
            "salt": learner.salt,
        },
    ]
    if learner.european_student_identifier:
        items.append(
            {
                "type": "IdentityObject",
                "identityType": "ext:EuropeanStudentIdentifier",
                "hashed": True,
                "identityHash": hash_identity(learner.european_student_identifier.strip(), learner.salt),
                "salt": learner.salt,
            }
        )
    return items


def profile(institution: InstitutionRef, preferred: Sequence[str]) -> dict[str, Any]:
    """An OB3 `Profile` of an institution: DID, name, URL, logo, country (`address.addressCountryCode`)."""
    out: dict[str, Any] = {
        "id": institution.did,
        "type": ["Profile"],
        "name": pick_text(institution.name, preferred)[1],
    }
    if institution.url:
        out["url"] = institution.url
    if institution.logo_url:
        out["image"] = {"id": institution.logo_url, "type": "Image"}
    address: dict[str, Any] = {"type": ["Address"], "addressCountryCode": institution.country}
    if institution.region:
        address["addressRegion"] = institution.region
    out["address"] = address
    identifiers = [{"type": "IdentifierEntry", "identifier": institution.institution_id, "identifierType": "ext:SCHAC"}]
    if institution.erasmus_code:
        identifiers.append(
            {"type": "IdentifierEntry", "identifier": institution.erasmus_code, "identifierType": "ext:ErasmusCode"}
        )
    out["otherIdentifier"] = identifiers
    return out


def status_entry(status: StatusEntry) -> dict[str, Any]:
    """ONE `BitstringStatusListEntry` (revocation); `statusListIndex` is a string, as the spec requires."""
    index = str(status.status_list_index)
    return {
        "id": f"{status.status_list_credential}#{index}",
        "type": STATUS_ENTRY_TYPE,
        "statusPurpose": "revocation",
        "statusListIndex": index,
        "statusListCredential": status.status_list_credential,
    }


def credential_schemas(ids: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": schema_id, "type": SCHEMA_VALIDATOR} for schema_id in ids]
