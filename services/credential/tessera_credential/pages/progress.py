"""A learner's progress in an offering, from the awarding engine's explanation (pure).

The explanation (``application.queries.explanation``) is the reference evaluator's tree: per
criterion ``met``, ``found`` versus ``threshold`` (and ``out_of``), ``missing`` components and an
English ``summary``. The page re-words each known criterion from those structured fields in the
page's language; an unknown criterion kind keeps the English summary, marked ``lang="en"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tessera_credential.pages.i18n import Translator

MAX_DEPTH = 12
MAX_CHILDREN = 50
OUTCOMES = frozenset(
    {"awarded", "not_met", "met_not_admitted", "enrolment_ended", "waiting_for_offering", "held_via_other_offering"}
)


@dataclass(frozen=True)
class CriterionLine:
    met: bool
    text: str
    text_language: str | None  # None: the page's language; "en": the evaluator's English summary
    children: tuple[CriterionLine, ...] = ()


@dataclass(frozen=True)
class ProgressView:
    offering_id: str
    title: str
    title_language: str | None
    outcome: str
    outcome_label: str
    met: bool
    value: Decimal
    maximum: Decimal
    percent: int
    criteria: CriterionLine | None
    credential_key: str | None = None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        decimal = Decimal(str(value))
    except InvalidOperation:
        return None
    return decimal if decimal.is_finite() else None


def criterion_text(node: Mapping[str, Any], t: Translator) -> tuple[str, str | None]:
    """(text, its language): the node re-worded in ``t``'s language, or its English summary."""
    kind = node.get("criterion")
    found, threshold, out_of = (_decimal(node.get(k)) for k in ("found", "threshold", "out_of"))
    code = str(node.get("component") or "")
    n = t.number
    text: str | None = None
    if kind == "component_passed":
        if found is None:
            text = t("crit_component_no_result", code=code)
        else:
            text = t("crit_component_passed" if node.get("met") else "crit_component_not_passed", code=code)
    elif kind == "component_minimum_grade" and threshold is not None:
        if found is None:
            text = t("crit_component_no_result", code=code)
        else:
            text = t("crit_component_minimum", code=code, found=n(found), threshold=n(threshold))
    elif kind == "ects_passed" and None not in (found, threshold, out_of):
        text = t("crit_ects", found=n(found), out_of=n(out_of), threshold=n(threshold))
    elif kind == "weighted_average_grade" and threshold is not None:
        if found is None:
            text = t("crit_average_none", threshold=n(threshold))
        else:
            text = t("crit_average", found=n(found), threshold=n(threshold))
    elif kind == "attendance" and threshold is not None:
        if found is None:
            text = t("crit_attendance_none", threshold=n(threshold))
        else:
            text = t("crit_attendance", found=n(found), threshold=n(threshold))
    elif kind in ("all_of", "any_of", "at_least") and None not in (found, threshold, out_of):
        text = t("crit_composite", found=n(found), out_of=n(out_of), threshold=n(threshold))
    if text is None:
        return str(node.get("summary") or kind or "?")[:500], "en"
    missing = node.get("missing")
    if kind not in ("component_passed", "component_minimum_grade") and isinstance(missing, list) and missing:
        text += "; " + t("crit_missing", codes=", ".join(str(m) for m in missing[:20]))
    return text, None


def criterion_lines(node: Any, t: Translator, depth: int = 0) -> CriterionLine | None:
    if not isinstance(node, Mapping):
        return None
    text, language = criterion_text(node, t)
    children: tuple[CriterionLine, ...] = ()
    raw = node.get("children")
    if depth < MAX_DEPTH and isinstance(raw, list):
        children = tuple(c for child in raw[:MAX_CHILDREN] if (c := criterion_lines(child, t, depth + 1)))
    return CriterionLine(bool(node.get("met")), text, language, children)


def progress_view(
    explanation: Mapping[str, Any] | None,
    *,
    offering_id: str,
    title: str,
    title_language: str | None,
    t: Translator,
    credential_key: str | None = None,
) -> ProgressView:
    """One offering's progress: the outcome, a measure towards the threshold and the criteria tree."""
    if explanation is None:
        return ProgressView(
            offering_id, title, title_language, "unknown", t("not_evaluated"), False, Decimal(0), Decimal(1), 0, None
        )
    outcome = str(explanation.get("outcome") or "unknown")
    label = t(f"outcome_{outcome}") if outcome in OUTCOMES else t("outcome_unknown", value=outcome[:60])
    tree = explanation.get("explanation")
    met = bool(explanation.get("met"))
    value, maximum = Decimal(1 if met else 0), Decimal(1)
    if isinstance(tree, Mapping):
        found, threshold = _decimal(tree.get("found")), _decimal(tree.get("threshold"))
        if found is not None and threshold is not None and threshold > 0:
            value, maximum = max(Decimal(0), min(found, threshold)), threshold
    if outcome in ("awarded", "held_via_other_offering"):
        value = maximum
    percent = int((value * 100 / maximum).to_integral_value()) if maximum > 0 else 0
    return ProgressView(
        offering_id=offering_id,
        title=title,
        title_language=title_language,
        outcome=outcome,
        outcome_label=label,
        met=met,
        value=value,
        maximum=maximum,
        percent=percent,
        criteria=criterion_lines(tree, t),
        credential_key=credential_key,
    )
