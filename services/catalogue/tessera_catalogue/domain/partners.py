"""Partner rules, shared by micro-credentials and pathways: exactly one coordinator (the one who
drafted), at least one awarding body, each partner a registered institution listed once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tessera_shared.contract.catalogue import InstitutionProfile, Partner, PartnerProfile, PartnerRole


def partner_problems(
    partners: Sequence[Partner], coordinator_id: str, directory: Mapping[str, InstitutionProfile]
) -> list[str]:
    if not partners:
        return ["partners: at least one partner (the coordinator) is required"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, partner in enumerate(partners):
        if partner.institution_id in seen:
            problems.append(f"partners[{i}].institution_id: {partner.institution_id} is listed twice")
        seen.add(partner.institution_id)
        if partner.institution_id not in directory:
            problems.append(f"partners[{i}].institution_id: {partner.institution_id} is not a registered institution")
        if len(set(partner.roles)) != len(partner.roles):
            problems.append(f"partners[{i}].roles: a role is listed twice")
    coordinators = [p.institution_id for p in partners if PartnerRole.COORDINATOR in p.roles]
    if len(coordinators) != 1:
        problems.append(f"partners: exactly one coordinator is required, found {len(coordinators)}")
    elif coordinators[0] != coordinator_id:
        problems.append(f"partners: the coordinator is {coordinator_id} and cannot change to {coordinators[0]}")
    if not any(PartnerRole.AWARDING in p.roles for p in partners):
        problems.append("partners: at least one awarding partner (the Annex I awarding body) is required")
    return problems


def check_coordinator_kept(partners: Sequence[Partner], coordinator_id: str) -> list[str]:
    """Drafts may be incomplete, but no edit may name another coordinator."""
    others = [
        p.institution_id for p in partners if PartnerRole.COORDINATOR in p.roles and p.institution_id != coordinator_id
    ]
    return [f"partners: the coordinator is {coordinator_id}; {', '.join(others)} cannot coordinate"] if others else []


def profiles(partners: Sequence[Partner], directory: Mapping[str, InstitutionProfile]) -> tuple[PartnerProfile, ...]:
    """Partners with the name and location of their institution, as published."""
    return tuple(
        PartnerProfile(
            institution_id=p.institution_id,
            roles=p.roles,
            name=directory[p.institution_id].name,
            country=directory[p.institution_id].country,
            region=directory[p.institution_id].region,
            erasmus_code=directory[p.institution_id].erasmus_code,
        )
        for p in partners
    )
