"""Volume rules: notional workload, the consortium's ECTS range and the component credits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tessera_shared.contract.catalogue import Component, Workload


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class VolumeRules:
    """The consortium's configuration (seeds: 3-30 ECTS, 84-840 notional hours). One ECTS credit is
    25-30 hours of work (ECTS Users' Guide 2015)."""

    min_ects: Decimal = Decimal(3)
    max_ects: Decimal = Decimal(30)
    min_hours: int = 84
    max_hours: int = 840
    min_hours_per_ects: int = 25
    max_hours_per_ects: int = 30


def volume_problems(workload: Workload | None, components: Sequence[Component], rules: VolumeRules) -> list[str]:
    if workload is None:
        return []  # reported as a missing Annex I element
    problems: list[str] = []
    ects, hours = workload.ects, workload.notional_hours
    if not rules.min_ects <= ects <= rules.max_ects:
        problems.append(
            f"workload.ects: {_n(ects)} ECTS is outside the consortium's range "
            f"{_n(rules.min_ects)}-{_n(rules.max_ects)}"
        )
    if not rules.min_hours <= hours <= rules.max_hours:
        problems.append(f"workload.notional_hours: {hours} hours is outside {rules.min_hours}-{rules.max_hours}")
    low, high = ects * rules.min_hours_per_ects, ects * rules.max_hours_per_ects
    if not low <= hours <= high:
        problems.append(
            f"workload.notional_hours: {hours} hours does not match {_n(ects)} ECTS "
            f"({_n(low)}-{_n(high)} hours at {rules.min_hours_per_ects}-{rules.max_hours_per_ects} h/ECTS)"
        )
    if components:
        total = sum((c.ects for c in components), Decimal(0))
        if total != ects:
            problems.append(f"components: component ECTS add up to {_n(total)}, not the programme's {_n(ects)}")
    return problems
