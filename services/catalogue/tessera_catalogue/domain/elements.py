"""Rules on the elements of a micro-credential draft beyond Annex I presence and volume:
outcomes, components, level, quality assurance, prerequisites and criteria."""

from __future__ import annotations

from collections.abc import Sequence

from tessera_catalogue.domain.draft import MicroCredentialDraft
from tessera_shared.contract.catalogue import PrerequisiteKind, QualityAssuranceKind
from tessera_shared.contract.criteria import validate_criteria


def _duplicates(values: Sequence[str], path: str, what: str) -> list[str]:
    return [f"{path}[{i}]: {what} {v!r} is used twice" for i, v in enumerate(values) if v in values[:i]]


def required_problems(draft: MicroCredentialDraft) -> list[str]:
    """Elements the catalogue requires besides Annex I's."""
    missing = {
        "description": draft.description is None,
        "isced_field": draft.isced_field is None,
        "languages": not draft.languages,
        "components": not draft.components,
        "criteria": draft.criteria is None,
    }
    return [f"{path}: is required" for path, absent in missing.items() if absent]


def component_problems(draft: MicroCredentialDraft) -> list[str]:
    outcome_ids = [o.id for o in draft.learning_outcomes]
    problems = _duplicates(outcome_ids, "learning_outcomes", "learning outcome id")
    problems += _duplicates([c.code for c in draft.components], "components", "component code")
    partners = set(draft.partner_ids())
    for i, component in enumerate(draft.components):
        for j, outcome in enumerate(component.learning_outcome_ids):
            if outcome not in outcome_ids:
                problems.append(f"components[{i}].learning_outcome_ids[{j}]: unknown learning outcome {outcome!r}")
        if component.teaching_institution not in partners:
            problems.append(
                f"components[{i}].teaching_institution: {component.teaching_institution} is not a listed partner"
            )
    return problems


def element_problems(draft: MicroCredentialDraft, micro_credential_id: str) -> list[str]:
    problems: list[str] = []
    level = draft.level
    if level and level.eqf and level.qf_ehea and level.qf_ehea.eqf_level != level.eqf:
        problems.append(
            f"level.qf_ehea: {level.qf_ehea.value} corresponds to EQF {level.qf_ehea.eqf_level}, not {level.eqf}"
        )
    qa = draft.quality_assurance
    if qa and qa.kind is QualityAssuranceKind.EXTERNAL and not (qa.agency or qa.deqar_id):
        problems.append("quality_assurance.agency: external quality assurance names its agency or DEQAR id")
    pre = draft.prerequisites
    if pre.kind is PrerequisiteKind.DIPLOMA_LEVEL and pre.diploma_eqf_level is None:
        problems.append("prerequisites.diploma_eqf_level: is required for a diploma-level prerequisite")
    if pre.kind is PrerequisiteKind.MICRO_CREDENTIALS and not pre.micro_credential_ids:
        problems.append("prerequisites.micro_credential_ids: name at least one required micro-credential")
    if pre.kind is not PrerequisiteKind.MICRO_CREDENTIALS and pre.micro_credential_ids:
        problems.append(f"prerequisites.kind: is {pre.kind.value} but micro-credentials are listed")
    for i, required in enumerate(pre.micro_credential_ids):
        if required == micro_credential_id:
            problems.append(f"prerequisites.micro_credential_ids[{i}]: a micro-credential cannot require itself")
    if draft.criteria is not None:
        problems += validate_criteria(draft.criteria, {c.code: c.ects for c in draft.components})
    return problems
