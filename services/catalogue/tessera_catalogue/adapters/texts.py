"""Localised text for the public catalogue: dates, euro amounts, tariffs and refund policies.

English, Dutch, German and French (the criteria narratives' languages); any other language falls
back to English. Amounts are computed with the contract's ``fee_for`` / ``refund_for``, so the text
shows exactly what the enrolment service will charge and refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tessera_shared.contract.terms import (
    ComponentTerms,
    FeeTariff,
    FlatTariff,
    RefundKind,
    RefundPolicy,
    refund_for,
    to_cents,
)
from tessera_shared.contract.values import Semester

LANGUAGES = ("en", "nl", "de", "fr")

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}

_T: dict[str, dict[str, str]] = {
    "en": {
        "before": "Cancellation before {until}",
        "between": "Cancellation from {start} to {end}",
        "from": "Cancellation from {start}",
        "any": "Cancellation at any time",
        "full": "full refund ({amount})",
        "second_semester_credits": "refund of the second-semester credits ({amount})",
        "second_all": "full refund: every credit is taught in the second semester ({amount})",
        "second_none": "no refund: no credit is taught in the second semester",
        "none": "no refund",
        "per_ects": "{rate} per ECTS credit",
        "per_ects_institution": "{rate} per ECTS credit for components taught by {institution}",
        "flat": "a flat fee of {amount}",
        "fee": "Fee: {tariff}; {ects} ECTS = {amount}.",
    },
    "nl": {
        "before": "Annulering vóór {until}",
        "between": "Annulering van {start} tot en met {end}",
        "from": "Annulering vanaf {start}",
        "any": "Annulering op elk moment",
        "full": "volledige terugbetaling ({amount})",
        "second_semester_credits": "terugbetaling van de studiepunten van het tweede semester ({amount})",
        "second_all": "volledige terugbetaling: alle studiepunten vallen in het tweede semester ({amount})",
        "second_none": "geen terugbetaling: geen studiepunten in het tweede semester",
        "none": "geen terugbetaling",
        "per_ects": "{rate} per ECTS-studiepunt",
        "per_ects_institution": "{rate} per ECTS-studiepunt voor onderdelen gedoceerd door {institution}",
        "flat": "een vast bedrag van {amount}",
        "fee": "Kosten: {tariff}; {ects} ECTS = {amount}.",
    },
    "de": {
        "before": "Stornierung vor dem {until}",
        "between": "Stornierung vom {start} bis zum {end}",
        "from": "Stornierung ab dem {start}",
        "any": "Stornierung jederzeit",
        "full": "volle Erstattung ({amount})",
        "second_semester_credits": "Erstattung der Leistungspunkte des zweiten Semesters ({amount})",
        "second_all": "volle Erstattung: alle Leistungspunkte liegen im zweiten Semester ({amount})",
        "second_none": "keine Erstattung: keine Leistungspunkte im zweiten Semester",
        "none": "keine Erstattung",
        "per_ects": "{rate} pro ECTS-Punkt",
        "per_ects_institution": "{rate} pro ECTS-Punkt für Komponenten von {institution}",
        "flat": "eine Pauschale von {amount}",
        "fee": "Gebühr: {tariff}; {ects} ECTS = {amount}.",
    },
    "fr": {
        "before": "Annulation avant le {until}",
        "between": "Annulation du {start} au {end}",
        "from": "Annulation à partir du {start}",
        "any": "Annulation à tout moment",
        "full": "remboursement intégral ({amount})",
        "second_semester_credits": "remboursement des crédits du second semestre ({amount})",
        "second_all": "remboursement intégral : tous les crédits relèvent du second semestre ({amount})",
        "second_none": "aucun remboursement : aucun crédit au second semestre",
        "none": "aucun remboursement",
        "per_ects": "{rate} par crédit ECTS",
        "per_ects_institution": "{rate} par crédit ECTS pour les composantes enseignées par {institution}",
        "flat": "un forfait de {amount}",
        "fee": "Frais : {tariff} ; {ects} ECTS = {amount}.",
    },
}


def text_language(preferred: Iterable[str]) -> str:
    """The first preferred language we have templates for, else English."""
    for tag in preferred:
        primary = tag.split("-")[0].lower()
        if primary in _T:
            return primary
    return "en"


def format_date(value: date, lang: str) -> str:
    month = _MONTHS[lang].split()[value.month - 1]
    if lang == "de":
        return f"{value.day}. {month} {value.year}"
    if lang == "fr":
        return f"{'1er' if value.day == 1 else value.day} {month} {value.year}"
    return f"{value.day} {month} {value.year}"


def _grouped(value: Decimal, thousands: str, decimal_mark: str) -> str:
    whole, cents = f"{to_cents(value):,.2f}".split(".")
    return whole.replace(",", thousands) + decimal_mark + cents


def format_eur(value: Decimal, lang: str) -> str:
    if lang == "en":
        return "€" + _grouped(value, ",", ".")
    if lang == "nl":
        return "€ " + _grouped(value, ".", ",")
    return _grouped(value, "\u202f" if lang == "fr" else ".", ",") + " €"


def format_number(value: Decimal, lang: str) -> str:
    text = format(value.normalize(), "f")
    return text if lang == "en" else text.replace(".", ",")


def tariff_text(tariff: FeeTariff, lang: str, names: dict[str, str] | None = None) -> str:
    t = _T[lang]
    if isinstance(tariff, FlatTariff):
        return t["flat"].format(amount=format_eur(tariff.amount, lang))
    parts = [t["per_ects"].format(rate=format_eur(tariff.rate, lang))]
    for institution, rate in sorted(tariff.institution_rates.items()):
        name = (names or {}).get(institution, institution)
        parts.append(t["per_ects_institution"].format(rate=format_eur(rate, lang), institution=name))
    return "; ".join(parts)


def fee_text(tariff: FeeTariff, ects: Decimal, fee: Decimal, lang: str, names: dict[str, str] | None = None) -> str:
    return _T[lang]["fee"].format(
        tariff=tariff_text(tariff, lang, names), ects=format_number(ects, lang), amount=format_eur(fee, lang)
    )


def refund_rules(
    policy: RefundPolicy,
    fee: Decimal,
    components: Sequence[ComponentTerms],
    tariff: FeeTariff,
    lang: str,
    first_day: date | None = None,
) -> list[dict[str, Any]]:
    """Each dated rule as a period (``from``/``until`` inclusive, open-ended as null), the refund it
    gives for the whole offering's ``fee`` as an example amount, and a sentence saying so."""
    t = _T[lang]
    rules: list[dict[str, Any]] = []
    start: date | None = None
    colon = " :" if lang == "fr" else ":"  # French typography
    for rule in policy.rules:
        until = rule.before - timedelta(days=1) if rule.before is not None else None
        example_day = start or until or first_day or date.today()
        amount = refund_for(policy, fee, components, example_day, tariff)
        if start is None and rule.before is not None:
            when = t["before"].format(until=format_date(rule.before, lang))
        elif start is not None and until is not None:
            when = t["between"].format(start=format_date(start, lang), end=format_date(until, lang))
        elif start is not None:
            when = t["from"].format(start=format_date(start, lang))
        else:
            when = t["any"]
        rules.append(
            {
                "from": start.isoformat() if start else None,
                "until": until.isoformat() if until else None,
                "refund": rule.refund.value,
                "amount": str(amount),
                "text": f"{when}{colon} {_refund_phrase(rule.refund, amount, fee, components, lang)}.",
            }
        )
        start = rule.before
        if start is None:
            break
    return rules


def _refund_phrase(
    kind: RefundKind, amount: Decimal, fee: Decimal, components: Sequence[ComponentTerms], lang: str
) -> str:
    t = _T[lang]
    money = format_eur(amount, lang)
    if kind is RefundKind.FULL:
        return t["full"].format(amount=money)
    if kind is RefundKind.NONE or fee <= 0:
        return t["none"]
    second = [c for c in components if c.semester is Semester.SECOND]
    if not second:
        return t["second_none"]
    if len(second) == len(components):
        return t["second_all"].format(amount=money)
    return t["second_semester_credits"].format(amount=money)
