"""EU Council Recommendation 2022 (2022/C 243/02) Annex I: which elements a draft states.

Two mandatory elements belong to an issued credential, not to a programme: learner identification
and date of issuing. They are reported as ``at_issuance`` and never block publishing.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

from tessera_catalogue.domain.draft import MicroCredentialDraft
from tessera_shared.contract.catalogue import MicroCredentialDefinition, PartnerRole

# The registered institutions: only membership is checked, so a directory mapping
# (institution id -> profile) or a set of ids both work.
Registered = Container[str]
Check = Callable[[MicroCredentialDraft, Registered], bool]


def _awarding(draft: MicroCredentialDraft) -> list[str]:
    return [p.institution_id for p in draft.partners if PartnerRole.AWARDING in p.roles]


def _issuer_located(draft: MicroCredentialDraft, directory: Registered) -> bool:
    awarding = _awarding(draft)
    return bool(awarding) and all(i in directory for i in awarding)


# element -> (field path, present?)
MANDATORY: dict[str, tuple[str, Check]] = {
    "title": ("title", lambda d, _: d.title is not None),
    "country_region_of_issuer": ("partners", _issuer_located),
    "awarding_bodies": ("partners", lambda d, _: bool(_awarding(d))),
    "learning_outcomes": ("learning_outcomes", lambda d, _: bool(d.learning_outcomes)),
    "notional_workload": ("workload", lambda d, _: d.workload is not None),
    "level": ("level", lambda d, _: d.level is not None and (d.level.eqf or d.level.qf_ehea) is not None),
    "type_of_assessment": ("assessment", lambda d, _: d.assessment is not None),
    "form_of_participation": ("participation", lambda d, _: d.participation is not None),
    "type_of_quality_assurance": ("quality_assurance", lambda d, _: d.quality_assurance is not None),
}
AT_ISSUANCE = ("learner_identification", "date_of_issuing")
OPTIONAL: dict[str, tuple[str, Check]] = {
    "prerequisites": ("prerequisites", lambda d, _: True),
    "supervision_and_identity_verification": ("supervision", lambda d, _: d.supervision is not None),
    "grade": ("grading", lambda d, _: d.grading is not None),
    "integration_and_stackability": ("integration", lambda d, _: d.integration is not None),
    "further_information": ("further_information_url", lambda d, _: d.further_information_url is not None),
}


@dataclass(frozen=True)
class AnnexICompleteness:
    present: tuple[str, ...]
    missing: tuple[str, ...]
    optional_present: tuple[str, ...]
    at_issuance: tuple[str, ...] = AT_ISSUANCE

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> dict[str, object]:
        """JSON-ready: complete, present, missing, optional_present, at_issuance."""
        return {
            "complete": self.complete,
            "present": list(self.present),
            "missing": list(self.missing),
            "optional_present": list(self.optional_present),
            "at_issuance": list(self.at_issuance),
        }


def annex_i_completeness(draft: MicroCredentialDraft, directory: Registered) -> AnnexICompleteness:
    present = tuple(name for name, (_, ok) in MANDATORY.items() if ok(draft, directory))
    return AnnexICompleteness(
        present=present,
        missing=tuple(name for name in MANDATORY if name not in present),
        optional_present=tuple(name for name, (_, ok) in OPTIONAL.items() if ok(draft, directory)),
    )


def annex_i_problems(draft: MicroCredentialDraft, directory: Registered) -> list[str]:
    report = annex_i_completeness(draft, directory)
    return [f"{MANDATORY[name][0]}: Annex I element '{name}' is missing" for name in report.missing]


def published_completeness(definition: MicroCredentialDefinition) -> AnnexICompleteness:
    """The report for a published snapshot: its partners were registered institutions when it was
    published (their name and country are part of the snapshot)."""
    draft = MicroCredentialDraft.model_validate(definition.model_dump(exclude={"criteria_narrative"}))
    return annex_i_completeness(draft, {p.institution_id for p in definition.partners})
