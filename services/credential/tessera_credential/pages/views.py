"""What the pages show, built from the stored credential (pure: no database, no HTTP).

The facts an employer reads come from the **signed document** (``issued_credentials.document``), not
from the catalogue: the page must show what the signatures cover. Only presentation extras come from
elsewhere — institution logos and websites (``award_institutions``), and the credential's current
status (``issued_credentials``). The document is read tolerantly: a missing field is left out, never
an error (a pathway ``ClrCredential`` has no ``creditsAvailable``, for instance).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from tessera_credential.documents.alignments import (
    AWARDING_BODY,
    EQF_LEVEL,
    LEARNING_OUTCOME,
    achievements_of,
)
from tessera_credential.keys.did import DidWeb
from tessera_credential.pages.i18n import Translator

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"


# ------------------------------------------------------------------------------ addresses


def credential_key(dids: DidWeb, credential_id: str | None) -> str | None:
    """The share key of a credential of this deployment: the UUID at the end of its id."""
    prefix = f"{dids.public_base}/credentials/"
    if not credential_id or not credential_id.startswith(prefix):
        return None
    return parse_key(credential_id[len(prefix) :])


def parse_key(key: str) -> str | None:
    """The canonical UUID text of a share key, or None when it is not one."""
    if len(key) > 64:
        return None
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return None


def credential_id_of(dids: DidWeb, key: str) -> str:
    return f"{dids.public_base}/credentials/{key}"


def share_url(dids: DidWeb, key: str) -> str:
    return f"{dids.public_base}/c/{key}"


def json_url(dids: DidWeb, key: str) -> str:
    return f"{dids.public_base}/credentials/{key}.json"


def pdf_url(dids: DidWeb, key: str) -> str:
    return f"{dids.public_base}/c/{key}.pdf"


def badge_url(dids: DidWeb, mc_id: str, version: int) -> str:
    return f"{dids.public_base}/achievements/{quote(mc_id, safe='')}/v{version}/badge.svg"


def safe_image_url(dids: DidWeb, url: Any) -> str | None:
    """An image URL the pages may load: https, or this deployment's own (the pages' CSP allows both)."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    if url.startswith(dids.public_base + "/"):
        return url
    parts = urlsplit(url)
    return url if parts.scheme == "https" and parts.hostname else None


def safe_link_url(url: Any) -> str | None:
    if not isinstance(url, str) or len(url) > 2048:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("https", "http") and parts.hostname else None


# ------------------------------------------------------------------------------ the credential


@dataclass(frozen=True)
class Body:
    """An awarding body as the credential names it (signed), with its logo and website (unsigned)."""

    did: str
    name: str
    country: str
    role: str  # issuer | co-awarder
    logo_url: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Outcome:
    text: str
    code: str | None = None
    esco_url: str | None = None


@dataclass(frozen=True)
class CredentialView:
    credential_id: str
    key: str
    kind: str  # micro_credential | pathway
    title: str
    description: str | None
    content_language: str | None  # the language the signed texts are written in
    learner_name: str | None
    ects_available: Decimal | None
    ects_earned: Decimal | None
    eqf_level: str | None
    outcomes: tuple[Outcome, ...]
    bodies: tuple[Body, ...]
    stacked: tuple[str, ...]  # a pathway's micro-credentials (names)
    issuer_name: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    status: str  # active | revoked | superseded
    issued_at: datetime
    ended_at: datetime | None
    revocation_reason: str | None
    successor_key: str | None
    predecessor_key: str | None
    share_url: str
    json_url: str
    pdf_url: str
    badge_url: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


def _text(value: Any, limit: int = 2000) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        decimal = Decimal(str(value))
    except InvalidOperation:
        return None
    return decimal if decimal.is_finite() else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _alignments(achievement: Mapping[str, Any], target_type: str) -> list[Mapping[str, Any]]:
    entries = achievement.get("alignment")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, Mapping) and e.get("targetType") == target_type]


def _learner_name(document: Mapping[str, Any]) -> str | None:
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return None
    name = _text(subject.get("name"), 400)
    if name:
        return name
    identifiers = subject.get("identifier")
    for entry in identifiers if isinstance(identifiers, list) else []:
        if isinstance(entry, Mapping) and entry.get("identityType") == "name" and entry.get("hashed") is False:
            return _text(entry.get("identityHash"), 400)
    return None


def _bodies(
    dids: DidWeb, document: Mapping[str, Any], achievement: Mapping[str, Any], profiles: Mapping[str, Any]
) -> tuple[Body, ...]:
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer if isinstance(issuer, str) else None
    out = []
    for entry in _alignments(achievement, AWARDING_BODY)[:32]:
        did = entry.get("targetUrl")
        if not isinstance(did, str):
            continue
        institution_id = dids.institution_of(did)
        profile = profiles.get(institution_id) if institution_id else None
        profile = profile if isinstance(profile, Mapping) else {}
        logo = safe_image_url(dids, profile.get("logo_url"))
        website = safe_link_url(profile.get("website"))
        if did == issuer_id and isinstance(issuer, Mapping):
            image = issuer.get("image")
            logo = logo or safe_image_url(dids, image.get("id") if isinstance(image, Mapping) else image)
            website = website or safe_link_url(issuer.get("url"))
        out.append(
            Body(
                did=did,
                name=_text(entry.get("targetName"), 300) or did,
                country=_text(entry.get("targetCode"), 8) or "",
                role="issuer" if did == issuer_id else "co-awarder",
                logo_url=logo,
                website=website,
            )
        )
    return tuple(out)


def _outcomes(achievement: Mapping[str, Any]) -> tuple[Outcome, ...]:
    out = []
    for entry in _alignments(achievement, LEARNING_OUTCOME)[:100]:
        text = _text(entry.get("targetName"))
        if not text:
            continue
        url = entry.get("targetUrl")
        esco = url if isinstance(url, str) and url.startswith("http://data.europa.eu/esco/") else None
        out.append(Outcome(text=text, code=_text(entry.get("targetCode"), 100), esco_url=esco))
    return tuple(out)


def credential_view(dids: DidWeb, row: Mapping[str, Any], profiles: Mapping[str, Any]) -> CredentialView:
    """The page's view of one ``issued_credentials`` row (``profiles``: institution id -> profile)."""
    document = row["document"] if isinstance(row["document"], Mapping) else {}
    achievements = achievements_of(document)
    main: Mapping[str, Any] = achievements[0] if achievements else {}
    key = credential_key(dids, row["credential_id"]) or ""
    eqf = _alignments(main, EQF_LEVEL)
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    issuer = document.get("issuer")
    kind = str(row.get("award_kind") or "micro_credential")
    mc_id, version = row.get("micro_credential_id"), row.get("micro_credential_version")
    return CredentialView(
        credential_id=row["credential_id"],
        key=key,
        kind=kind,
        title=_text(main.get("name"), 500) or _text(document.get("name"), 500) or row["credential_id"],
        description=_text(main.get("description")) or _text(document.get("description")),
        content_language=_text(main.get("inLanguage"), 35),
        learner_name=_learner_name(document),
        ects_available=_decimal(main.get("creditsAvailable")),
        ects_earned=_decimal(subject.get("creditsEarned")),
        eqf_level=_text(eqf[0].get("targetCode"), 8) if eqf else None,
        outcomes=_outcomes(main),
        bodies=_bodies(dids, document, main, profiles),
        stacked=tuple(n for a in achievements[1:50] if (n := _text(a.get("name"), 500))),
        issuer_name=_text(issuer.get("name"), 300) if isinstance(issuer, Mapping) else None,
        valid_from=_datetime(document.get("validFrom")),
        valid_until=_datetime(document.get("validUntil")),
        status=str(row["status"]),
        issued_at=row["issued_at"],
        ended_at=row.get("ended_at"),
        revocation_reason=row.get("revocation_reason"),
        successor_key=credential_key(dids, row.get("superseded_by")),
        predecessor_key=credential_key(dids, row.get("supersedes")),
        share_url=share_url(dids, key),
        json_url=json_url(dids, key),
        pdf_url=pdf_url(dids, key),
        badge_url=badge_url(dids, mc_id, version) if isinstance(mc_id, str) and isinstance(version, int) else None,
    )


# ------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class Check:
    ok: bool | None  # None: could not be determined
    label: str


@dataclass(frozen=True)
class VerificationView:
    verdict: str  # valid | invalid | indeterminate | unavailable
    checked_at: datetime | None = None
    checks: tuple[Check, ...] = ()
    problems: tuple[str, ...] = ()


def verification_view(report: Mapping[str, Any] | None, t: Translator) -> VerificationView:
    """The report of ``verification.report.verify_credential`` as the page's list of checks."""
    if report is None:
        return VerificationView("unavailable")
    checks: list[Check] = []
    for body in report.get("awarding_bodies") or []:
        name = str(body.get("name") or body.get("did"))
        signed = bool(body.get("signed"))
        checks.append(Check(signed, t("check_signed_by" if signed else "check_not_signed_by", name=name)))
    checks.append(Check(bool((report.get("issuer_proof") or {}).get("valid")), t("check_issuer_first")))
    policy = report.get("issuer_policy") or {}
    if policy.get("checked"):
        checks.append(Check(bool(policy.get("trusted")), t("check_trusted")))
    schemas = report.get("schemas") or []
    checks.append(Check(bool(schemas) and all(s.get("valid") for s in schemas), t("check_schemas")))
    checks.append(Check(bool((report.get("signable") or {}).get("ok")), t("check_signable")))
    status = (report.get("status") or {}).get("status")
    checks.append(Check(None if status == "unknown" else status == "active", t("check_not_revoked")))
    checks.append(Check(bool((report.get("validity") or {}).get("ok")), t("check_validity")))
    return VerificationView(
        verdict=str(report.get("verdict") or "unavailable"),
        checked_at=_datetime(report.get("checked_at")),
        checks=tuple(checks),
        problems=tuple(str(p) for p in (report.get("problems") or [])[:20]),
    )


# ------------------------------------------------------------------------------ LinkedIn


def linkedin_add_url(
    *,
    name: str,
    organization: str,
    issued: datetime,
    cert_id: str,
    cert_url: str,
    expires: datetime | None = None,
) -> str:
    """LinkedIn's "Add to profile" link for a certification (every value URL-encoded)."""
    params: list[tuple[str, str]] = [
        ("startTask", "CERTIFICATION_NAME"),
        ("name", name),
        ("organizationName", organization),
        ("issueYear", str(issued.year)),
        ("issueMonth", str(issued.month)),
    ]
    if expires is not None:
        params += [("expirationYear", str(expires.year)), ("expirationMonth", str(expires.month))]
    params += [("certId", cert_id), ("certUrl", cert_url)]
    return f"{LINKEDIN_ADD}?{urlencode(params, quote_via=quote)}"


def linkedin_for(view: CredentialView) -> str:
    issuer = next((b.name for b in view.bodies if b.role == "issuer"), None)
    return linkedin_add_url(
        name=view.title,
        organization=view.issuer_name or issuer or "Tessera",
        issued=view.valid_from or view.issued_at,
        cert_id=view.key,
        cert_url=view.share_url,
        expires=view.valid_until,
    )


def body_names(bodies: Sequence[Body]) -> str:
    return ", ".join(b.name for b in bodies)
