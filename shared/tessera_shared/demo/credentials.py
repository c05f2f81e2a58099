"""Finding the signed credentials of the demo's awards through the credential service's API.

The credential service's issuance part is newer than the demo; rather than assume its routes, the
demo reads the service's OpenAPI document once and uses what it offers, in this order:

* ``GET /learners/{learner_id}/credentials`` (a learner's credentials, JSON), else
* ``GET /awards/{award_id}/credential`` (one award's credential, JSON), else
* ``GET /backpack`` with the learner's token: the learner's page, whose credential cards carry
  ``data-key="<uuid>"`` and a ``state-<status>`` marker, else
* nothing: the demo then reports awards only and says so.

The verification page is ``GET /c/{uuid}`` (or any public route with ``verif`` in its path and one
parameter); without one, the credential's JSON (``/credentials/{uuid}.json``) is the link to
share, and ``POST /verify`` verifies it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from tessera_shared.demo.api import Api, Who

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class IssuedCredential:
    award_id: str
    learner_id: str
    credential_id: str  # the VC's id (a URL)
    status: str  # as the service says (active / revoked / superseded …) or the award's status
    json_url: str
    verification_url: str | None
    title: str = ""


@dataclass(frozen=True)
class Issuance:
    """What the credential service offers for finding issued credentials."""

    learner_route: str | None = None
    award_route: str | None = None
    backpack_route: str | None = None
    verification_route: str | None = None
    verify_post: bool = False

    @property
    def discoverable(self) -> bool:
        return bool(self.learner_route or self.award_route or self.backpack_route)


async def discover(api: Api) -> Issuance:
    r = await api.request("credential", "GET", "/openapi.json", who=None, allow=(404,))
    if r.status_code != 200:
        return Issuance()
    paths: dict[str, Any] = r.json().get("paths", {})
    get_paths = [p for p, ops in paths.items() if "get" in ops]
    learner_route = next((p for p in get_paths if re.fullmatch(r"/learners/\{[^}]+\}/credentials", p)), None)
    award_route = next((p for p in get_paths if re.fullmatch(r"/awards/\{[^}]+\}/credentials?", p)), None)
    verification = next((p for p in get_paths if re.fullmatch(r"/c/\{[^}]+\}", p)), None) or next(
        (p for p in get_paths if "verif" in p and len(re.findall(r"\{[^}]+\}", p)) == 1 and "." not in p), None
    )
    backpack = "/backpack" if "/backpack" in get_paths else None
    verify_post = "/verify" in paths and "post" in paths["/verify"]
    return Issuance(learner_route, award_route, backpack, verification, verify_post)


_CARD = re.compile(r'<article[^>]*class="[^"]*\bcredential\b[^"]*"[^>]*data-key="([0-9a-f-]{36})"(.*?)</article>', re.S)
_STATE = re.compile(r'class="state state-([a-z_]+)"')
_TITLE = re.compile(r"<h3[^>]*>(.*?)</h3>", re.S)


async def _backpack(api: Api, issuance: Issuance, learner_id: str) -> list[IssuedCredential]:
    assert issuance.backpack_route is not None
    learner = Who(learner_id, ("learner",))
    r = await api.request("credential", "GET", issuance.backpack_route, who=learner, params={"lang": "en"})
    out = []
    for key, card in _CARD.findall(r.text):
        state = _STATE.search(card)
        cid = f"{api.endpoints.of('credential')}/credentials/{key}"
        json_url, page = _links(api, issuance, cid)
        title = _TITLE.search(card)
        status = state.group(1) if state else "issued"
        out.append(
            IssuedCredential(
                "", learner_id, cid, status, json_url, page, html.unescape(title.group(1)) if title else ""
            )
        )
    return out


def _credential_ids(payload: Any) -> list[tuple[str, dict[str, Any]]]:
    """(credential id, the object it was found in) for every credential in a response."""
    found: list[tuple[str, dict[str, Any]]] = []
    items: list[Any]
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = payload.get("credentials") or payload.get("items") or [payload]
    else:
        items = []
    for item in items:
        if not isinstance(item, dict):
            continue
        cid = item.get("credential_id") or item.get("credential_url") or item.get("id")
        nested = item.get("credential")
        if not cid and isinstance(nested, dict):
            cid = nested.get("id")
        elif not cid and isinstance(nested, str):
            cid = nested
        if isinstance(cid, str) and _UUID.search(cid):
            found.append((cid, item))
    return found


def _links(api: Api, issuance: Issuance, credential_id: str) -> tuple[str, str | None]:
    base = api.endpoints.of("credential")
    match = _UUID.search(credential_id)
    uuid = match.group(0) if match else credential_id
    json_url = f"{base}/credentials/{uuid}.json"
    page = None
    if issuance.verification_route:
        page = base + re.sub(r"\{[^}]+\}", uuid, issuance.verification_route)
    return json_url, page


async def credentials_of(
    api: Api, issuance: Issuance, learner_id: str, awards: list[dict[str, Any]]
) -> list[IssuedCredential]:
    """The issued credentials of ``learner_id``'s ``awards`` (empty when none can be found)."""
    out: list[IssuedCredential] = []
    by_award = {a["award_id"]: a for a in awards}
    if not issuance.learner_route and not issuance.award_route and issuance.backpack_route:
        return await _backpack(api, issuance, learner_id)
    if issuance.learner_route:
        path = issuance.learner_route.replace(re.findall(r"\{[^}]+\}", issuance.learner_route)[0], learner_id)
        payload = await api.get_json("credential", path)
        for cid, item in _credential_ids(payload):
            award_id = str(item.get("award_id") or "")
            json_url, page = _links(api, issuance, cid)
            status = str(item.get("status") or by_award.get(award_id, {}).get("status", "issued"))
            out.append(IssuedCredential(award_id, learner_id, cid, status, json_url, page))
        return out
    for award in awards:
        found: Any = award
        if issuance.award_route:
            path = issuance.award_route.replace(re.findall(r"\{[^}]+\}", issuance.award_route)[0], award["award_id"])
            r = await api.request("credential", "GET", path, allow=(404,))
            if r.status_code == 404:
                continue
            found = r.json()
        for cid, item in _credential_ids(found):
            if cid == award.get("award_id"):
                continue
            json_url, page = _links(api, issuance, cid)
            status = str(item.get("status") or award["status"])
            out.append(IssuedCredential(award["award_id"], learner_id, cid, status, json_url, page))
    return out
