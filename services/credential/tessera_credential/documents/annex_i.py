"""Where each EU Annex I element lives: OB 3.0 paths (signed fields) and ELM export paths.

One table for the docs (docs/credential-mapping.md lists the same paths) and the tests (which resolve
every path on signed credentials and ELM exports, and tamper with each OB 3.0 value).

Path syntax: dot-separated keys; arrays are traversed implicitly (JSON-LD arrays are sets);
`key[field=value]` keeps the elements whose `field` (itself a dotted path) equals `value`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tessera_credential.documents import alignments as al

_ACH = "credentialSubject.achievement"
_ALIGN = _ACH + ".alignment[targetType={}]"
_CLAIM = "credentialSubject.hasClaim"
_SPEC = _CLAIM + ".specifiedBy"
_NOTE = _SPEC + ".additionalNote[subject.id=urn:tessera:concept:note-subject:{}].noteLiteral"


@dataclass(frozen=True)
class AnnexIElement:
    key: str
    label: str
    mandatory: bool
    ob3: tuple[str, ...]
    elm: tuple[str, ...]


ANNEX_I: tuple[AnnexIElement, ...] = (
    AnnexIElement(
        "learner",
        "Identification of the learner",
        True,
        (
            "credentialSubject.name",
            "credentialSubject.identifier[identityType=name].identityHash",
            "credentialSubject.identifier[identityType=emailAddress].identityHash",
            "credentialSubject.identifier[identityType=emailAddress].salt",
        ),
        ("credentialSubject.fullName", "credentialSubject.identifier.notation"),
    ),
    AnnexIElement(
        "title", "Title of the micro-credential", True, ("name", _ACH + ".name"), (_CLAIM + ".title", _SPEC + ".title")
    ),
    AnnexIElement(
        "issuer_country",
        "Country/region of the issuer",
        True,
        ("issuer.address.addressCountryCode", _ACH + ".creator.address.addressCountryCode"),
        ("issuer.location.address.countryCode.id",),
    ),
    AnnexIElement(
        "awarding_bodies",
        "Awarding body(ies), each with its country",
        True,
        (
            "issuer.id",
            "issuer.name",
            _ALIGN.format(al.AWARDING_BODY) + ".targetName",
            _ALIGN.format(al.AWARDING_BODY) + ".targetUrl",
            _ALIGN.format(al.AWARDING_BODY) + ".targetCode",
        ),
        (
            _CLAIM + ".awardedBy.awardingBody.legalName",
            _CLAIM + ".awardedBy.awardingBody.location.address.countryCode.id",
        ),
    ),
    AnnexIElement(
        "date_of_issuing",
        "Date of issuing",
        True,
        ("validFrom", "awardedDate"),
        ("issued", "validFrom", _CLAIM + ".awardedBy.awardingDate"),
    ),
    AnnexIElement(
        "learning_outcomes",
        "Learning outcomes",
        True,
        (_ALIGN.format(al.LEARNING_OUTCOME) + ".targetName", _ALIGN.format(al.LEARNING_OUTCOME) + ".targetUrl"),
        (_SPEC + ".learningOutcome.title", _SPEC + ".learningOutcome.relatedESCOSkill.id"),
    ),
    AnnexIElement(
        "workload",
        "Notional workload (ECTS)",
        True,
        (
            _ACH + ".creditsAvailable",
            "credentialSubject.creditsEarned",
            _ALIGN.format(al.WORKLOAD) + ".targetCode",
            _ALIGN.format(al.WORKLOAD) + ".targetDescription",
        ),
        (_SPEC + ".creditPoint.point", _SPEC + ".volumeOfLearning", _CLAIM + ".creditReceived.point"),
    ),
    AnnexIElement(
        "level",
        "Level (EQF and/or QF-EHEA)",
        True,
        (_ALIGN.format(al.EQF_LEVEL) + ".targetCode", _ALIGN.format(al.QF_EHEA_CYCLE) + ".targetCode"),
        (_SPEC + ".eqfLevel.id", _NOTE.format("qf-ehea")),
    ),
    AnnexIElement(
        "assessment",
        "Type of assessment",
        True,
        (_ALIGN.format(al.ASSESSMENT) + ".targetCode",),
        (_CLAIM + ".provenBy.specifiedBy.hasPart.dcType.id",),
    ),
    AnnexIElement(
        "participation",
        "Form of participation",
        True,
        (_ALIGN.format(al.PARTICIPATION) + ".targetCode", _ALIGN.format(al.PARTICIPATION) + ".targetUrl"),
        (_SPEC + ".mode.id",),
    ),
    AnnexIElement(
        "quality_assurance",
        "Type of quality assurance",
        True,
        (_ALIGN.format(al.QUALITY_ASSURANCE) + ".targetCode", _ALIGN.format(al.QUALITY_ASSURANCE) + ".targetName"),
        (_NOTE.format("quality-assurance"),),
    ),
    AnnexIElement(
        "prerequisites",
        "Prerequisites",
        False,
        (_ALIGN.format(al.PREREQUISITES) + ".targetCode", _ALIGN.format(al.PREREQUISITES) + ".targetName"),
        (_SPEC + ".entryRequirement.noteLiteral",),
    ),
    AnnexIElement(
        "supervision",
        "Supervision and identity verification",
        False,
        (_ALIGN.format(al.SUPERVISION) + ".targetCode",),
        (_CLAIM + ".provenBy.idVerification.id",),
    ),
    AnnexIElement(
        "grade",
        "Grade",
        False,
        (
            "credentialSubject.result.value",
            "credentialSubject.result.resultDescription",
            _ACH + ".resultDescription.name",
        ),
        (_CLAIM + ".provenBy.grade.noteLiteral",),
    ),
    AnnexIElement(
        "stackability",
        "Integration / stackability options",
        False,
        (_ALIGN.format(al.STACKABILITY) + ".targetCode",),
        (_NOTE.format("integration-stackability"),),
    ),
    AnnexIElement(
        "further_information",
        "Further information",
        False,
        (_ALIGN.format(al.FURTHER_INFORMATION) + ".targetUrl",),
        (_SPEC + ".homepage.contentURL",),
    ),
)

_STEP = re.compile(r"^([^.\[\]]+)(?:\[([^=\]]+)=([^\]]*)\])?$")


def _steps(path: str) -> Iterator[tuple[str, str | None, str | None]]:
    depth, start = 0, 0
    for index, char in enumerate(path + "."):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "." and depth == 0:
            match = _STEP.match(path[start:index])
            if match is None:
                raise ValueError(f"bad path step {path[start:index]!r} in {path!r}")
            yield match.group(1), match.group(2), match.group(3)
            start = index + 1


def _flatten(values: list[Any]) -> list[Any]:
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def resolve(document: Any, path: str) -> list[Any]:
    """Every value at `path` (see the module docstring); [] when there is none."""
    current = [document]
    for key, field, expected in _steps(path):
        current = _flatten([node[key] for node in current if isinstance(node, dict) and key in node])
        if field is not None:
            current = [node for node in current if expected in [str(v) for v in resolve(node, field)]]
    return current
