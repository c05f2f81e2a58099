"""The public catalogue's JSON: published snapshots rendered in the reader's language.

Every multilingual text is localised with the contract's ``localise`` (exact tag, then primary
language, then English, then the alphabetically first language). Money and ECTS are strings
(Decimal), dates ISO 8601. Templated sentences (refund rules, fee) use :mod:`texts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from tessera_catalogue.adapters import texts
from tessera_catalogue.domain.annex_i import AnnexICompleteness
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.values import localise

View = dict[str, Any]


class Localiser:
    def __init__(self, preferred: Sequence[str]) -> None:
        self.preferred = list(preferred)
        self.lang = texts.text_language(self.preferred)

    def __call__(self, text: Mapping[str, str] | None) -> str | None:
        return localise(text, self.preferred) if text else None


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def annex_i_view(report: AnnexICompleteness) -> View:
    """Which Annex I elements the version states (mandatory present/missing, optional present)."""
    return report.summary()


def partner_view(p: cat.PartnerProfile, loc: Localiser) -> View:
    return {
        "institution_id": p.institution_id,
        "name": loc(p.name),
        "country": p.country,
        "region": p.region,
        "erasmus_code": p.erasmus_code,
        "roles": [r.value for r in p.roles],
    }


def definition_view(d: cat.MicroCredentialDefinition, loc: Localiser) -> View:
    """Every Annex I element of a published version, localised."""
    names = {p.institution_id: loc(p.name) for p in d.partners}
    qa, pre = d.quality_assurance, d.prerequisites
    return {
        "title": loc(d.title),
        "description": loc(d.description),
        "learning_outcomes": [
            {"id": o.id, "text": loc(o.text), "esco_skill": o.esco_skill} for o in d.learning_outcomes
        ],
        "ects": str(d.workload.ects),
        "notional_hours": d.workload.notional_hours,
        "level": {"eqf": d.level.eqf, "qf_ehea": d.level.qf_ehea.value if d.level.qf_ehea else None},
        "isced_field": d.isced_field,
        "languages": list(d.languages),
        "participation": {
            "mode": d.participation.mode.value,
            "evening": d.participation.evening,
            "distance": d.participation.distance,
            "description": loc(d.participation.description),
        },
        "assessment": {
            "methods": [m.value for m in d.assessment.methods],
            "description": loc(d.assessment.description),
        },
        "supervision": d.supervision.model_dump(mode="json") if d.supervision else None,
        "quality_assurance": {
            "kind": qa.kind.value,
            "agency": qa.agency,
            "deqar_id": qa.deqar_id,
            "url": qa.url,
            "description": loc(qa.description),
        },
        "prerequisites": {
            "kind": pre.kind.value,
            "diploma_eqf_level": pre.diploma_eqf_level,
            "micro_credential_ids": list(pre.micro_credential_ids),
            "description": loc(pre.description),
        },
        "grading": {"scheme_ids": list(d.grading.scheme_ids), "description": loc(d.grading.description)}
        if d.grading
        else None,
        "integration": {"stackable": d.integration.stackable, "description": loc(d.integration.description)}
        if d.integration
        else None,
        "further_information_url": d.further_information_url,
        "partners": [partner_view(p, loc) for p in d.partners],
        "components": [
            {
                "code": c.code,
                "title": loc(c.title),
                "ects": str(c.ects),
                "semester": c.semester.value,
                "learning_outcome_ids": list(c.learning_outcome_ids),
                "taught_by": {"institution_id": c.teaching_institution, "name": names.get(c.teaching_institution)},
            }
            for c in d.components
        ],
        "criteria": {
            "narrative": loc(d.criteria_narrative),
            "validity_months": d.criteria.validity_months,
            "rule": d.criteria.rule.model_dump(mode="json"),
        },
    }


def offering_view(
    scheduled: cat.OfferingScheduled,
    row: Mapping[str, Any],
    loc: Localiser,
    today: date,
    names: Mapping[str, str] | None = None,
) -> View:
    """An offering with its dates, seats, fee and cancellation rules (as sentences with amounts)."""
    terms = scheduled.terms
    status = row["status"]
    lang = loc.lang
    return {
        "offering_id": scheduled.offering_id,
        "micro_credential_id": scheduled.micro_credential_id,
        "micro_credential_version": scheduled.micro_credential_version,
        "title": loc(scheduled.title),
        "coordinator_id": scheduled.coordinator_id,
        "status": status,
        "open_for_enrolment": status == "open" and terms.enrolment.opens_on <= today <= terms.enrolment.closes_on,
        "academic_year": terms.academic_year,
        "period": terms.period.value,
        "starts_on": _iso(terms.starts_on),
        "ends_on": _iso(terms.ends_on),
        "enrolment": {"opens_on": _iso(terms.enrolment.opens_on), "closes_on": _iso(terms.enrolment.closes_on)},
        "capacity": terms.capacity,
        "waitlist": terms.waitlist,
        "schedule": loc(terms.schedule),
        "sessions": [s.model_dump(mode="json") for s in terms.sessions],
        "attendance": {"compulsory": terms.attendance.compulsory, "description": loc(terms.attendance.description)},
        "ects": str(scheduled.ects),
        "fee": {
            "amount": str(scheduled.fee),
            "currency": "EUR",
            "tariff": terms.tariff.model_dump(mode="json"),
            "text": texts.fee_text(terms.tariff, scheduled.ects, scheduled.fee, lang, dict(names or {})),
        },
        "refund_policy": {
            "rules": texts.refund_rules(
                terms.refund_policy, scheduled.fee, scheduled.components, terms.tariff, lang, terms.starts_on
            ),
            "note": "amounts are for the whole offering's fee; a cancelled offering is refunded in full",
        },
        "cancellation_reason": row.get("cancellation_reason"),
        "version": row["revision"],
    }


def entry_view(
    micro_credential_id: str,
    version: int,
    definition: cat.MicroCredentialDefinition,
    annex_i: Mapping[str, Any],
    published_at: datetime,
    retired: bool,
    offerings: Sequence[View],
    loc: Localiser,
) -> View:
    return {
        "micro_credential_id": micro_credential_id,
        "version": version,
        "published_at": _iso(published_at),
        "retired": retired,
        "coordinator_id": definition.coordinator_id,
        "annex_i": dict(annex_i),
        **definition_view(definition, loc),
        "offerings": list(offerings),
        "links": {
            "self": f"/catalogue/micro-credentials/{micro_credential_id}/versions/{version}",
            "latest": f"/catalogue/micro-credentials/{micro_credential_id}",
        },
    }


def pathway_view(
    pathway_id: str, version: int, d: cat.PathwayDefinition, published_at: datetime, loc: Localiser
) -> View:
    return {
        "pathway_id": pathway_id,
        "version": version,
        "published_at": _iso(published_at),
        "coordinator_id": d.coordinator_id,
        "title": loc(d.title),
        "description": loc(d.description),
        "level": d.level.model_dump(mode="json") if d.level else None,
        "rule": d.rule.model_dump(mode="json"),
        "narrative": loc(d.narrative),
        "members": [
            {
                "micro_credential_id": m.micro_credential_id,
                "title": loc(m.title),
                "ects": str(m.ects),
                "link": f"/catalogue/micro-credentials/{m.micro_credential_id}",
            }
            for m in d.members
        ],
        "partners": [partner_view(p, loc) for p in d.partners],
    }


def institution_view(profile: cat.InstitutionProfile, revision: int, loc: Localiser) -> View:
    return {
        "institution_id": profile.institution_id,
        "name": loc(profile.name),
        "names": dict(profile.name),
        "erasmus_code": profile.erasmus_code,
        "country": profile.country,
        "region": profile.region,
        "website": profile.website,
        "logo_url": profile.logo_url,
        "contact": profile.contact.model_dump(mode="json"),
        "grading_scheme_ids": list(profile.grading_scheme_ids),
        "version": revision,
    }
