"""Transparent award criteria: declarative data, a generated narrative and the reference evaluator.

The criteria of a micro-credential version are published with it, so their *meaning* is part of the
public contract: any partner holding the same facts computes the same answer with :func:`evaluate`.

A criterion is one of

- ``component_passed``: the component's effective result is a pass;
- ``component_minimum_grade``: the component's normalised grade (0..1) is at least ``minimum``;
- ``ects_passed``: the ECTS of passed components (all, or those listed in ``components``) >= ``minimum``;
- ``weighted_average_grade``: the ECTS-weighted average normalised grade over the components in scope
  >= ``minimum``; every component in scope needs a result (a missing result is *not yet met*, so an
  average over the first graded component can never award early); results graded pass/fail are left
  out of the average (a pass normalises to 1.0, which says nothing about how well);
- ``attendance``: the ECTS-weighted attendance percentage over the components in scope >= ``minimum``;
  every component in scope needs a recorded attendance;
- ``all_of`` / ``any_of`` / ``at_least`` (``count``) over nested criteria.

Comparisons are exact: ``sum(ects * score) >= minimum * sum(ects)``; no division, no floats (a float
score such as the assessment contract's ``normalised_score`` becomes the Decimal of its shortest
repr, ``0.62`` -> ``Decimal("0.62")``). Averages shown in explanations are rounded half-even to 4
decimals for display only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from tessera_shared.contract.values import (
    Code,
    ContractModel,
    Ects,
    MultilingualText,
    Percentage,
    PositiveEcts,
    Score,
    localise,
)

# --------------------------------------------------------------------------------------- the data


class ComponentPassed(ContractModel):
    kind: Literal["component_passed"] = "component_passed"
    component: Code


class ComponentMinimumGrade(ContractModel):
    kind: Literal["component_minimum_grade"] = "component_minimum_grade"
    component: Code
    minimum: Score


class _Scoped(ContractModel):
    components: tuple[Code, ...] | None = Field(
        default=None, min_length=1, description="the components counted; none = every component"
    )

    @field_validator("components")
    @classmethod
    def _listed_once(cls, codes: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if codes is not None and len(set(codes)) != len(codes):
            raise ValueError("a component is listed twice")
        return codes


class EctsPassed(_Scoped):
    kind: Literal["ects_passed"] = "ects_passed"
    minimum: PositiveEcts


class WeightedAverageGrade(_Scoped):
    kind: Literal["weighted_average_grade"] = "weighted_average_grade"
    minimum: Score


class Attendance(_Scoped):
    kind: Literal["attendance"] = "attendance"
    minimum: Percentage


class AllOf(ContractModel):
    kind: Literal["all_of"] = "all_of"
    criteria: tuple[Criterion, ...] = Field(min_length=1)


class AnyOf(ContractModel):
    kind: Literal["any_of"] = "any_of"
    criteria: tuple[Criterion, ...] = Field(min_length=1)


class AtLeast(ContractModel):
    kind: Literal["at_least"] = "at_least"
    count: int = Field(ge=1)
    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _count_reachable(self) -> AtLeast:
        if self.count > len(self.criteria):
            raise ValueError(f"count {self.count} exceeds the {len(self.criteria)} criteria listed")
        return self


Criterion = Annotated[
    ComponentPassed | ComponentMinimumGrade | EctsPassed | WeightedAverageGrade | Attendance | AllOf | AnyOf | AtLeast,
    Field(discriminator="kind"),
]
Composite = AllOf | AnyOf | AtLeast

for _model in (AllOf, AnyOf, AtLeast):
    _model.model_rebuild()


class AwardCriteria(ContractModel):
    """The published award criteria of one micro-credential version."""

    rule: Criterion
    validity_months: int | None = Field(
        default=None, ge=1, le=1200, description="how long an issued credential is valid; none = no expiry"
    )


# ----------------------------------------------------------------------------------- validation


def _walk(criterion: Criterion, path: str) -> Iterable[tuple[str, Criterion]]:
    yield path, criterion
    if isinstance(criterion, AllOf | AnyOf | AtLeast):
        for i, child in enumerate(criterion.criteria):
            yield from _walk(child, f"{path}.criteria[{i}]")


def validate_references(criteria: AwardCriteria, component_codes: Iterable[str], prefix: str = "criteria") -> list[str]:
    """Every problem with component references, each as ``"<field path>: <message>"``."""
    known = set(component_codes)
    problems: list[str] = []
    for path, criterion in _walk(criteria.rule, f"{prefix}.rule"):
        if isinstance(criterion, ComponentPassed | ComponentMinimumGrade):
            if criterion.component not in known:
                problems.append(f"{path}.component: unknown component {criterion.component!r}")
        elif isinstance(criterion, EctsPassed | WeightedAverageGrade | Attendance) and criterion.components:
            for i, code in enumerate(criterion.components):
                if code not in known:
                    problems.append(f"{path}.components[{i}]: unknown component {code!r}")
    return problems


def validate_criteria(
    criteria: AwardCriteria, component_ects: Mapping[str, Decimal], prefix: str = "criteria"
) -> list[str]:
    """References plus reachability: an ECTS threshold above the credits in its scope can never be met."""
    problems = validate_references(criteria, component_ects, prefix)
    for path, criterion in _walk(criteria.rule, f"{prefix}.rule"):
        if isinstance(criterion, EctsPassed):
            scope = criterion.components or tuple(component_ects)
            available = sum((component_ects.get(code, Decimal(0)) for code in scope), Decimal(0))
            if criterion.minimum > available:
                problems.append(
                    f"{path}.minimum: {_num(criterion.minimum)} ECTS required but only {_num(available)} ECTS in scope"
                )
    return problems


# ------------------------------------------------------------------------------------ narrative

NARRATIVE_LANGUAGES = ("en", "nl", "de", "fr")

_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "lead": "To earn this micro-credential, a learner must",
        "all_of": "meet all of the following conditions:",
        "any_of": "meet at least one of the following conditions:",
        "at_least": "meet at least {count} of the following conditions:",
        "component_passed": "pass component {component}",
        "component_minimum_grade": "obtain a normalised grade of at least {minimum} in component {component}",
        "ects_passed": "pass components worth at least {minimum} ECTS credits{scope}",
        "weighted_average_grade": ("obtain an ECTS-weighted average normalised grade of at least {minimum}{scope}"),
        "attendance": "attend at least {minimum}% of the compulsory sessions{scope}",
        "scope": " (components: {components})",
        "grades": "Normalised grades run from 0 (lowest) to 1 (highest).",
        "validity": "The credential is valid for {months} months from the date of issue.",
    },
    "nl": {
        "lead": "Om deze microcredential te behalen, moet de lerende",
        "all_of": "aan alle volgende voorwaarden voldoen:",
        "any_of": "aan ten minste één van de volgende voorwaarden voldoen:",
        "at_least": "aan ten minste {count} van de volgende voorwaarden voldoen:",
        "component_passed": "onderdeel {component} behalen",
        "component_minimum_grade": (
            "voor onderdeel {component} een genormaliseerd cijfer van ten minste {minimum} behalen"
        ),
        "ects_passed": "onderdelen ter waarde van ten minste {minimum} ECTS-studiepunten behalen{scope}",
        "weighted_average_grade": (
            "een naar ECTS gewogen gemiddeld genormaliseerd cijfer van ten minste {minimum} behalen{scope}"
        ),
        "attendance": "ten minste {minimum}% van de verplichte sessies bijwonen{scope}",
        "scope": " (onderdelen: {components})",
        "grades": "Genormaliseerde cijfers lopen van 0 (laagste) tot 1 (hoogste).",
        "validity": "Het credential is {months} maanden geldig vanaf de datum van uitreiking.",
    },
    "de": {
        "lead": "Um dieses Micro-Credential zu erwerben, müssen Lernende",
        "all_of": "alle folgenden Bedingungen erfüllen:",
        "any_of": "mindestens eine der folgenden Bedingungen erfüllen:",
        "at_least": "mindestens {count} der folgenden Bedingungen erfüllen:",
        "component_passed": "die Komponente {component} bestehen",
        "component_minimum_grade": (
            "in der Komponente {component} eine normierte Note von mindestens {minimum} erreichen"
        ),
        "ects_passed": "Komponenten im Umfang von mindestens {minimum} ECTS-Punkten bestehen{scope}",
        "weighted_average_grade": (
            "eine nach ECTS gewichtete normierte Durchschnittsnote von mindestens {minimum} erreichen{scope}"
        ),
        "attendance": "an mindestens {minimum} % der Pflichtveranstaltungen teilnehmen{scope}",
        "scope": " (Komponenten: {components})",
        "grades": "Normierte Noten reichen von 0 (niedrigste) bis 1 (höchste).",
        "validity": "Der Nachweis ist ab dem Ausstellungsdatum {months} Monate gültig.",
    },
    "fr": {
        "lead": "Pour obtenir cette microcertification, l'apprenant doit",
        "all_of": "remplir toutes les conditions suivantes :",
        "any_of": "remplir au moins une des conditions suivantes :",
        "at_least": "remplir au moins {count} des conditions suivantes :",
        "component_passed": "réussir la composante {component}",
        "component_minimum_grade": ("obtenir une note normalisée d'au moins {minimum} dans la composante {component}"),
        "ects_passed": "réussir des composantes totalisant au moins {minimum} crédits ECTS{scope}",
        "weighted_average_grade": (
            "obtenir une moyenne normalisée, pondérée par les crédits ECTS, d'au moins {minimum}{scope}"
        ),
        "attendance": "assister à au moins {minimum} % des séances obligatoires{scope}",
        "scope": " (composantes : {components})",
        "grades": "Les notes normalisées vont de 0 (la plus basse) à 1 (la plus haute).",
        "validity": "La certification est valable {months} mois à compter de sa date de délivrance.",
    },
}


def _num(value: Decimal, lang: str = "en") -> str:
    text = format(value.normalize(), "f")
    return text if lang == "en" else text.replace(".", ",")


def _narrative_language(lang: str) -> str:
    primary = lang.split("-")[0].lower()
    return primary if primary in _TEMPLATES else "en"


def _clause(criterion: Criterion, lang: str, titles: Mapping[str, Mapping[str, str]], depth: int) -> list[str]:
    """The clause for ``criterion``: one line, or a header line followed by indented bullet lines."""
    t = _TEMPLATES[lang]

    def name(code: str) -> str:
        return f"{code} ({localise(titles[code], [lang])})" if code in titles else code

    def scope(codes: tuple[str, ...] | None) -> str:
        return t["scope"].format(components=", ".join(name(c) for c in codes)) if codes else ""

    if isinstance(criterion, AllOf | AnyOf | AtLeast):
        count = criterion.count if isinstance(criterion, AtLeast) else 0
        lines = [t[criterion.kind].format(count=count)]
        for child in criterion.criteria:
            child_lines = _clause(child, lang, titles, depth + 1)
            lines.append("  " * depth + "- " + child_lines[0])
            lines.extend(child_lines[1:])
        return lines
    if isinstance(criterion, ComponentPassed):
        return [t["component_passed"].format(component=name(criterion.component))]
    if isinstance(criterion, ComponentMinimumGrade):
        minimum = _num(criterion.minimum, lang)
        return [t["component_minimum_grade"].format(component=name(criterion.component), minimum=minimum)]
    return [t[criterion.kind].format(minimum=_num(criterion.minimum, lang), scope=scope(criterion.components))]


def narrative(criteria: AwardCriteria, lang: str = "en", titles: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A human narrative (Markdown bullets for compositions) in ``lang`` (en, nl, de, fr; else English).

    ``titles`` maps component codes to multilingual titles, shown next to the code."""
    lang = _narrative_language(lang)
    t = _TEMPLATES[lang]
    lines = _clause(criteria.rule, lang, titles or {}, 0)
    # a single condition is one sentence; a composition ends its lead with a colon and lists bullets
    text = "\n".join([f"{t['lead']} {lines[0]}", *lines[1:]]) + ("." if len(lines) == 1 else "")
    kinds = {c.kind for _, c in _walk(criteria.rule, "")}
    if kinds & {"component_minimum_grade", "weighted_average_grade"}:
        text += "\n\n" + t["grades"]
    if criteria.validity_months is not None:
        text += "\n\n" + t["validity"].format(months=criteria.validity_months)
    return text


def narratives(
    criteria: AwardCriteria,
    languages: Iterable[str] = (),
    titles: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """English plus every requested language a template exists for, keyed by primary language tag."""
    wanted = ["en", *(lang.split("-")[0].lower() for lang in languages)]
    return {lang: narrative(criteria, lang, titles) for lang in dict.fromkeys(wanted) if lang in _TEMPLATES}


# ------------------------------------------------------------------------------------ evaluation


class ComponentResult(ContractModel):
    """A learner's effective result for a component (resits and corrections already applied)."""

    score: Score
    passed: bool
    attempt: int = Field(default=1, ge=1)
    scheme_kind: Literal["numeric", "letter", "pass_fail"] = "numeric"
    event_ids: tuple[str, ...] = ()


class ComponentFacts(ContractModel):
    ects: Ects
    result: ComponentResult | None = None
    attendance: Percentage | None = None
    attendance_event_ids: tuple[str, ...] = ()


class Facts(ContractModel):
    """What is known about one learner in one offering, per component code."""

    components: dict[Code, ComponentFacts]


class Explanation(ContractModel):
    """Why a criterion is (not) met: a tree mirroring the criteria, JSON-serialisable."""

    criterion: str
    path: str
    met: bool
    summary: str
    component: str | None = None
    found: Decimal | None = None
    threshold: Decimal | None = None
    out_of: Decimal | None = None
    missing: tuple[str, ...] = Field(default=(), description="components in scope lacking the fact needed")
    contributing_event_ids: tuple[str, ...] = ()
    children: tuple[Explanation, ...] = ()


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _display(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN).normalize()


def _ge(found: Decimal | None, threshold: Decimal) -> str:
    return ">=" if found is not None and found >= threshold else "<"


def _component(criterion: ComponentPassed | ComponentMinimumGrade, facts: Facts, path: str) -> Explanation:
    code = criterion.component
    fact = facts.components.get(code)
    result = fact.result if fact else None
    threshold = criterion.minimum if isinstance(criterion, ComponentMinimumGrade) else None
    if result is None:
        return Explanation(
            criterion=criterion.kind,
            path=path,
            met=False,
            summary=f"component {code} has no result yet",
            component=code,
            threshold=threshold,
            missing=(code,),
        )
    if threshold is None:
        met = result.passed
        verdict = "passed" if met else "not passed"
        summary = f"component {code} {verdict} (attempt {result.attempt}, grade {_num(result.score)})"
    else:
        met = result.score >= threshold
        summary = (
            f"component {code} grade {_num(result.score)} {_ge(result.score, threshold)} {_num(threshold)} "
            f"(attempt {result.attempt})"
        )
    return Explanation(
        criterion=criterion.kind,
        path=path,
        met=met,
        summary=summary,
        component=code,
        found=result.score,
        threshold=threshold,
        contributing_event_ids=result.event_ids,
    )


def _scope(criterion: EctsPassed | WeightedAverageGrade | Attendance, facts: Facts) -> tuple[str, ...]:
    return criterion.components or tuple(sorted(facts.components))


def _ects_passed(criterion: EctsPassed, facts: Facts, path: str) -> Explanation:
    scope = _scope(criterion, facts)
    known = [facts.components[code] for code in scope if code in facts.components]
    total = sum((f.ects for f in known), Decimal(0))
    passed = sum((f.ects for f in known if f.result and f.result.passed), Decimal(0))
    events = _unique(e for f in known if f.result for e in f.result.event_ids)
    missing = tuple(code for code in scope if code not in facts.components or facts.components[code].result is None)
    return Explanation(
        criterion=criterion.kind,
        path=path,
        met=passed >= criterion.minimum,
        summary=f"{_num(passed)} of {_num(total)} ECTS passed ({_num(criterion.minimum)} required)",
        found=passed,
        threshold=criterion.minimum,
        out_of=total,
        missing=missing,
        contributing_event_ids=events,
    )


_SKIP = (Decimal(-1), ())


def _measure(fact: ComponentFacts, attendance: bool) -> tuple[Decimal, tuple[str, ...]] | None:
    """The value a weighted criterion averages for one component with the events it came from;
    ``None`` when not known yet, ``_SKIP`` for a pass/fail result (a pass says nothing about how well)."""
    if attendance:
        return None if fact.attendance is None else (fact.attendance, fact.attendance_event_ids)
    if fact.result is None:
        return None
    return _SKIP if fact.result.scheme_kind == "pass_fail" else (fact.result.score, fact.result.event_ids)


def _weighted(criterion: WeightedAverageGrade | Attendance, facts: Facts, path: str) -> Explanation:
    attendance = isinstance(criterion, Attendance)
    weight = weighted_sum = Decimal(0)
    events: list[str] = []
    missing: list[str] = []
    skipped: list[str] = []
    for code in _scope(criterion, facts):
        fact = facts.components.get(code)
        measured = _measure(fact, attendance) if fact else None
        if fact is None or measured is None:
            missing.append(code)
        elif measured is _SKIP:
            skipped.append(code)
        else:
            weight += fact.ects
            weighted_sum += fact.ects * measured[0]
            events.extend(measured[1])
    found = _display(weighted_sum / weight) if weight > 0 else None
    met = not missing and weight > 0 and weighted_sum >= criterion.minimum * weight
    label, unit = ("attendance", "%") if attendance else ("weighted average", "")
    minimum = f"{_num(criterion.minimum)}{unit}"
    if found is None:
        summary = f"{label}: nothing to average yet ({minimum} required)"
    else:
        summary = f"{label} {_num(found)}{unit} {_ge(found, criterion.minimum)} {minimum}"
    if missing:
        summary += f"; not yet known for {', '.join(missing)}"
    if skipped:
        summary += f"; pass/fail components not averaged: {', '.join(skipped)}"
    return Explanation(
        criterion=criterion.kind,
        path=path,
        met=met,
        summary=summary,
        found=found,
        threshold=criterion.minimum,
        missing=tuple(missing),
        contributing_event_ids=_unique(events),
    )


def _composite(criterion: Composite, facts: Facts, path: str) -> Explanation:
    children = tuple(_evaluate(child, facts, f"{path}.criteria[{i}]") for i, child in enumerate(criterion.criteria))
    met_count = sum(1 for child in children if child.met)
    if isinstance(criterion, AtLeast):
        required = criterion.count
    else:
        required = len(children) if isinstance(criterion, AllOf) else 1
    return Explanation(
        criterion=criterion.kind,
        path=path,
        met=met_count >= required,
        summary=f"{met_count} of {len(children)} criteria met ({required} required)",
        found=Decimal(met_count),
        threshold=Decimal(required),
        out_of=Decimal(len(children)),
        missing=_unique(code for child in children for code in child.missing),
        contributing_event_ids=_unique(e for child in children for e in child.contributing_event_ids),
        children=children,
    )


def _evaluate(criterion: Criterion, facts: Facts, path: str) -> Explanation:
    if isinstance(criterion, ComponentPassed | ComponentMinimumGrade):
        return _component(criterion, facts, path)
    if isinstance(criterion, EctsPassed):
        return _ects_passed(criterion, facts, path)
    if isinstance(criterion, WeightedAverageGrade | Attendance):
        return _weighted(criterion, facts, path)
    return _composite(criterion, facts, path)


def evaluate(criteria: AwardCriteria, facts: Facts) -> Explanation:
    """The reference evaluator: a pure, deterministic function of the criteria and the facts."""
    return _evaluate(criteria.rule, facts, "rule")


# ------------------------------------------------------------------------------- stacking pathways


class PathwayMember(ContractModel):
    """A micro-credential that counts towards a pathway (title and ECTS as published)."""

    micro_credential_id: Code
    title: MultilingualText
    ects: PositiveEcts


class AllMicroCredentials(ContractModel):
    kind: Literal["all_of"] = "all_of"


class AtLeastMicroCredentials(ContractModel):
    kind: Literal["at_least"] = "at_least"
    count: int = Field(ge=1)


class EctsTotal(ContractModel):
    kind: Literal["ects_total"] = "ects_total"
    minimum: PositiveEcts


PathwayRule = Annotated[AllMicroCredentials | AtLeastMicroCredentials | EctsTotal, Field(discriminator="kind")]


def validate_pathway_rule(rule: PathwayRule, members: Sequence[PathwayMember], prefix: str = "rule") -> list[str]:
    """Problems making ``rule`` unreachable with ``members`` (too high a count or ECTS total)."""
    problems: list[str] = []
    if isinstance(rule, AtLeastMicroCredentials) and rule.count > len(members):
        problems.append(f"{prefix}.count: {rule.count} required but only {len(members)} micro-credentials listed")
    if isinstance(rule, EctsTotal):
        available = sum((m.ects for m in members), Decimal(0))
        if rule.minimum > available:
            problems.append(
                f"{prefix}.minimum: {_num(rule.minimum)} ECTS required but only {_num(available)} ECTS listed"
            )
    return problems


def evaluate_pathway(
    rule: PathwayRule, members: Sequence[PathwayMember], held: Mapping[str, Sequence[str]]
) -> Explanation:
    """Whether valid awards (``held``: micro-credential id -> award event ids) satisfy the pathway rule."""
    counted = [m for m in members if m.micro_credential_id in held]
    missing = tuple(m.micro_credential_id for m in members if m.micro_credential_id not in held)
    events = _unique(e for m in counted for e in held[m.micro_credential_id])
    if isinstance(rule, EctsTotal):
        found = sum((m.ects for m in counted), Decimal(0))
        required = rule.minimum
        total = sum((m.ects for m in members), Decimal(0))
        summary = f"{_num(found)} of {_num(total)} ECTS held ({_num(required)} required)"
    else:
        found, total = Decimal(len(counted)), Decimal(len(members))
        required = total if isinstance(rule, AllMicroCredentials) else Decimal(rule.count)
        summary = f"{len(counted)} of {len(members)} micro-credentials held ({_num(required)} required)"
    return Explanation(
        criterion=f"pathway_{rule.kind}",
        path="rule",
        met=found >= required,
        summary=summary,
        found=found,
        threshold=required,
        out_of=total,
        missing=missing,
        contributing_event_ids=events,
    )


_PATHWAY_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "lead": "To earn this credential, a learner must hold",
        "all_of": "all of the following micro-credentials:",
        "at_least": "at least {count} of the following micro-credentials:",
        "ects_total": "micro-credentials from the following list worth at least {minimum} ECTS credits in total:",
    },
    "nl": {
        "lead": "Om dit credential te behalen, moet de lerende",
        "all_of": "alle volgende microcredentials bezitten:",
        "at_least": "ten minste {count} van de volgende microcredentials bezitten:",
        "ects_total": "microcredentials uit de volgende lijst met samen ten minste {minimum} "
        "ECTS-studiepunten bezitten:",
    },
    "de": {
        "lead": "Um diesen Nachweis zu erwerben, müssen Lernende",
        "all_of": "alle folgenden Micro-Credentials besitzen:",
        "at_least": "mindestens {count} der folgenden Micro-Credentials besitzen:",
        "ects_total": "Micro-Credentials aus der folgenden Liste im Umfang von insgesamt mindestens "
        "{minimum} ECTS-Punkten besitzen:",
    },
    "fr": {
        "lead": "Pour obtenir cette certification, l'apprenant doit détenir",
        "all_of": "toutes les microcertifications suivantes :",
        "at_least": "au moins {count} des microcertifications suivantes :",
        "ects_total": "des microcertifications de la liste suivante totalisant au moins {minimum} crédits ECTS :",
    },
}


def pathway_narrative(rule: PathwayRule, members: Sequence[PathwayMember], lang: str = "en") -> str:
    """A human narrative of a pathway's rule, listing its micro-credentials (en, nl, de, fr)."""
    lang = _narrative_language(lang)
    t = _PATHWAY_TEMPLATES[lang]
    count = rule.count if isinstance(rule, AtLeastMicroCredentials) else 0
    minimum = _num(rule.minimum, lang) if isinstance(rule, EctsTotal) else ""
    lead = f"{t['lead']} {t[rule.kind].format(count=count, minimum=minimum)}"
    items = [f"- {localise(m.title, [lang])} ({_num(m.ects, lang)} ECTS)" for m in members]
    return "\n".join([lead, *items])


def pathway_narratives(
    rule: PathwayRule, members: Sequence[PathwayMember], languages: Iterable[str] = ()
) -> dict[str, str]:
    wanted = ["en", *(lang.split("-")[0].lower() for lang in languages)]
    return {lang: pathway_narrative(rule, members, lang) for lang in dict.fromkeys(wanted) if lang in _TEMPLATES}
