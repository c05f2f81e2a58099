"""The unsigned Open Badges 3.0 `OpenBadgeCredential` of one micro-credential award.

Pure function of an `IssuanceInput`: same input, same document (so it can be rebuilt and compared).
Where each EU Annex I element goes is documented in docs/credential-mapping.md and listed, path by
path, in `annex_i.ANNEX_I`; the tests check every path on signed credentials.

OB 3.0 texts are single-language strings: they are written in `IssuanceInput.language` or else the
first language of instruction the title exists in (`achievement.inLanguage` says which); the ELM
export carries every language.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from tessera_credential.documents.alignments import annex_i_alignments
from tessera_credential.documents.common import (
    OB3_CONTEXT,
    OB3_SCHEMA_IDS,
    add_months,
    credential_schemas,
    decimal_text,
    identity_objects,
    json_number,
    pick_text,
    profile,
    status_entry,
    xsd_datetime,
)
from tessera_credential.documents.inputs import IssuanceInput
from tessera_shared.contract.criteria import Explanation

ACHIEVEMENT_TYPE = "MicroCredential"
_RESULT_TYPES = {"letter": "LetterGrade", "numeric": "ext:NumericGrade", "pass_fail": "ext:PassFail"}


def preferred_languages(issuance: IssuanceInput) -> list[str]:
    """`IssuanceInput.language`, then the languages of instruction (then English: see `pick_text`)."""
    languages = list(issuance.definition.languages)
    return [issuance.language, *languages] if issuance.language else languages


def build_ob3_credential(issuance: IssuanceInput) -> dict[str, Any]:
    """The unsigned credential (sign it with `documents.signing.sign_credential`)."""
    preferred = preferred_languages(issuance)
    d = issuance.definition
    title_language, title = pick_text(d.title, preferred)
    awarded = issuance.award.awarded_at
    achievement = build_achievement(issuance, preferred)
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "name": issuance.learner.full_name,
        "identifier": identity_objects(issuance.learner),
        "achievement": achievement,
        "creditsEarned": json_number(Decimal(issuance.award.grade_summary.ects_earned)),
        "result": results(issuance),
    }
    credential: dict[str, Any] = {
        "@context": list(OB3_CONTEXT),
        "id": issuance.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": title,
        "description": pick_text(d.description, [title_language, *preferred])[1],
        "issuer": profile(issuance.issuer, preferred),
        "validFrom": xsd_datetime(awarded),
    }
    if d.criteria.validity_months is not None:
        credential["validUntil"] = xsd_datetime(add_months(awarded, d.criteria.validity_months))
    credential["awardedDate"] = xsd_datetime(awarded)
    credential["credentialSubject"] = subject
    credential["evidence"] = evidence(issuance)
    credential["credentialSchema"] = credential_schemas(OB3_SCHEMA_IDS)
    credential["credentialStatus"] = status_entry(issuance.status)
    return credential


def build_achievement(issuance: IssuanceInput, preferred: Sequence[str]) -> dict[str, Any]:
    d = issuance.definition
    language, name = pick_text(d.title, preferred)
    achievement: dict[str, Any] = {
        "id": issuance.achievement_id,
        "type": ["Achievement"],
        "achievementType": ACHIEVEMENT_TYPE,
        "name": name,
        "description": pick_text(d.description, [language, *preferred])[1],
        "criteria": {
            "id": issuance.criteria_url,
            "type": ["Criteria"],
            "narrative": pick_text(d.criteria_narrative, [language, *preferred])[1],
        },
        "creator": profile(issuance.issuer, preferred),
        "creditsAvailable": json_number(d.workload.ects),
        "fieldOfStudy": f"ISCED-F {d.isced_field}",
        "humanCode": issuance.micro_credential_id,
        "version": str(issuance.version),
        "inLanguage": language,
        "alignment": annex_i_alignments(issuance, preferred),
        "resultDescription": result_descriptions(issuance, preferred),
    }
    if issuance.achievement_image_url:
        achievement["image"] = {"id": issuance.achievement_image_url, "type": "Image", "caption": name}
    return achievement


def _description_id(issuance: IssuanceInput, *parts: str) -> str:
    return f"{issuance.achievement_id}#result-" + "-".join(quote(p, safe="") for p in parts)


def result_descriptions(issuance: IssuanceInput, preferred: Sequence[str]) -> list[dict[str, Any]]:
    """What each `result` means: award status, ECTS-weighted average, each component's native grade."""
    summary = issuance.award.grade_summary
    titles = {c.code: (pick_text(c.title, preferred)[1], c.ects) for c in issuance.definition.components}
    out: list[dict[str, Any]] = [
        {
            "id": _description_id(issuance, "status"),
            "type": ["ResultDescription"],
            "name": "Award status",
            "resultType": "Status",
        }
    ]
    if summary.weighted_average is not None:
        out.append(
            {
                "id": _description_id(issuance, "weighted-average"),
                "type": ["ResultDescription"],
                "name": "ECTS-weighted average normalised grade (0 lowest, 1 highest)",
                "resultType": "ScaledScore",
                "valueMin": "0",
                "valueMax": "1",
            }
        )
    for code, grade in sorted(summary.component_grades.items()):
        title, ects = titles.get(code, (code, Decimal(grade.ects)))
        out.append(
            {
                "id": _description_id(issuance, "component", code, grade.scheme_id),
                "type": ["ResultDescription"],
                "name": f"Component {code} ({title}, {decimal_text(ects)} ECTS): grade on scale {grade.scheme_id}",
                "resultType": _RESULT_TYPES.get(grade.scheme_kind, "ext:Grade"),
            }
        )
    return out


def results(issuance: IssuanceInput) -> list[dict[str, Any]]:
    summary = issuance.award.grade_summary
    out: list[dict[str, Any]] = [
        {"type": ["Result"], "resultDescription": _description_id(issuance, "status"), "status": "Completed"}
    ]
    if summary.weighted_average is not None:
        out.append(
            {
                "type": ["Result"],
                "resultDescription": _description_id(issuance, "weighted-average"),
                "value": decimal_text(Decimal(str(summary.weighted_average))),
            }
        )
    for code, grade in sorted(summary.component_grades.items()):
        out.append(
            {
                "type": ["Result"],
                "resultDescription": _description_id(issuance, "component", code, grade.scheme_id),
                "value": grade.grade,
            }
        )
    return out


def explanation_narrative(explanation: Explanation, depth: int = 0) -> str:
    """The stored criteria explanation as Markdown bullets (met / not met, with what was found)."""
    mark = "met" if explanation.met else "not met"
    lines = ["  " * depth + f"- [{mark}] {explanation.summary}"]
    lines += [explanation_narrative(child, depth + 1) for child in explanation.children]
    return "\n".join(lines)


def evidence(issuance: IssuanceInput) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "id": f"{issuance.credential_id}#evidence-criteria",
            "type": ["Evidence"],
            "name": "Evaluation of the published award criteria",
            "description": f"Award {issuance.award.award_id}: how each criterion of version {issuance.version} was met",
            "narrative": explanation_narrative(issuance.award.explanation),
            "genre": "Criteria evaluation",
        }
    ]
    if issuance.predecessor_id:
        items.append(
            {
                "id": issuance.predecessor_id,
                "type": ["Evidence"],
                "name": "Superseded credential",
                "description": f"This credential supersedes {issuance.predecessor_id} after a correction of results.",
                "genre": "Supersedes",
            }
        )
    return items
