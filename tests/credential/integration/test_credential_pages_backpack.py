"""The learner backpack on a real PostgreSQL: authentication (bearer header or the short-lived
cookie, never a query string), a learner sees only their own credentials, the LinkedIn link, the
progress from the awarding engine's explanation, languages."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tessera_shared.kernel import auth
from tests.credential.integration.test_credential_issuance_world import BASE, revoke
from tests.credential.integration.test_credential_pages_world import (
    Html,
    check_accessible_basics,
    enrol,
    issue,
    key_of,
    pages_service,
    pipeline,
    second_offering,
    seed_learner,
    seed_world,
)

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_learner_sees_only_their_own_credentials(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        ana = await issue(pool, "ana", given="Ana", family="Peeters")
        bob = await issue(pool, "bob", given="Bob", family="Jansen")

        response = await svc.client.get("/backpack", headers=tokens.headers("ana", ["learner"]))
        assert response.status_code == 200
        page = Html(response.text)
        check_accessible_basics(page, "en")
        assert page.text("h1") == "My backpack"
        assert page.text("p", id="signed-in") == "Signed in as Ana Peeters"
        cards = page.find("article", class_="card credential")
        assert [c["attrs"]["data-key"] for c in cards] == [key_of(ana)]
        assert key_of(bob) not in response.text and "Jansen" not in response.text
        share = page.one("input", id=f"share-{key_of(ana)}")
        assert share["attrs"]["value"] == f"{BASE}/c/{key_of(ana)}" and "readonly" in share["attrs"]
        links = {a["attrs"].get("class"): a["attrs"]["href"] for a in page.find("a") if a["attrs"].get("class")}
        assert links["verification-link"] == f"{BASE}/c/{key_of(ana)}?lang=en"
        assert links["json-link"] == f"{BASE}/credentials/{key_of(ana)}.json"
        assert links["pdf-link"] == f"{BASE}/c/{key_of(ana)}.pdf?lang=en"
        for name in ("json-link", "pdf-link", "verification-link"):  # every link of the card works
            target = await svc.client.get(links[name])
            assert target.status_code == 200, name
        assert response.headers["cache-control"] == "no-store"
        assert "Cookie" in response.headers["vary"] and "Authorization" in response.headers["vary"]

        bobs = Html((await svc.client.get("/backpack", headers=tokens.headers("bob", ["learner"]))).text)
        assert [c["attrs"]["data-key"] for c in bobs.find("article", class_="card credential")] == [key_of(bob)]

        nobody = await svc.client.get("/backpack", headers=tokens.headers("carol", ["learner"]))
        assert nobody.status_code == 200
        assert Html(nobody.text).text("p", id="no-credentials") == "You have no credentials yet."


async def test_the_linkedin_link_carries_the_certification(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        page = Html((await svc.client.get("/backpack", headers=tokens.headers("ana", ["learner"]))).text)
        link = page.one("a", class_="linkedin-link")
        assert link["attrs"]["rel"] == "noopener noreferrer"
        url = urlsplit(link["attrs"]["href"])
        assert (url.scheme, url.netloc, url.path) == ("https", "www.linkedin.com", "/profile/add")
        params = parse_qs(url.query, strict_parsing=True)
        awarded = row["document"]["validFrom"]
        assert params == {
            "startTask": ["CERTIFICATION_NAME"],
            "name": ["Responsible Data Science"],
            "organizationName": ["Ghent University"],
            "issueYear": [awarded[:4]],
            "issueMonth": [str(int(awarded[5:7]))],
            "certId": [key_of(row)],
            "certUrl": [f"{BASE}/c/{key_of(row)}"],
        }
        assert "+" not in url.query  # spaces are %20, never ambiguous

        async with pool.acquire() as conn:  # a revoked credential is not offered for a profile
            await revoke(conn, row["award_id"])
        await pipeline(pool).drain(pool)
        page = Html((await svc.client.get("/backpack", headers=tokens.headers("ana", ["learner"]))).text)
        assert page.find("a", class_="linkedin-link") == []
        assert "criteria no longer met: C2 withdrawn" in page.text("article", class_="card credential")


async def test_without_a_valid_learner_token_there_is_a_sign_in_page(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        other_private, _ = auth.generate_keypair()
        cases = {
            "no token": ({}, 401, "missing"),
            "expired": (bearer(tokens.mint("ana", ["learner"], now=time.time() - 7200)), 401, "invalid"),
            "forged": (bearer(auth.mint_token(other_private, subject="ana", roles=["learner"])), 401, "invalid"),
            "garbage": (bearer("not.a.jwt"), 401, "invalid"),
            "staff": (tokens.headers("alice", ["assessor"], "ugent.be"), 403, "not_learner"),
            "operator": (tokens.headers("op", ["operator"]), 403, "not_learner"),
        }
        for name, (headers, status, problem) in cases.items():
            response = await svc.client.get("/backpack", headers=headers)
            assert response.status_code == status, name
            page = Html(response.text)
            check_accessible_basics(page, "en")
            assert (
                page.text("p", id="auth-problem")
                == {
                    "missing": "Please sign in to see your backpack.",
                    "invalid": "Your sign-in is not valid or has expired. Please sign in again.",
                    "not_learner": "The backpack is for learners: this account is not a learner account.",
                }[problem]
            ), name
            assert key_of(row) not in response.text, name
            form = page.one("form")
            assert form["attrs"] == {"method": "post", "action": f"{BASE}/backpack/session"}
            assert page.one("input", id="token")["attrs"]["type"] == "password"
            if status == 401:
                assert response.headers["www-authenticate"] == "Bearer"
            assert "for at most 30 minutes." in page.text("p", id="token-help"), name
        # a token in the query string is never accepted (it would end up in logs and history)
        token = tokens.mint("ana", ["learner"])
        response = await svc.client.get(f"/backpack?token={token}&access_token={token}")
        assert response.status_code == 401 and key_of(row) not in response.text


async def test_the_cookie_session_signs_in_and_out_without_exposing_the_token(servers, namespace, tokens, capsys):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana", given="Ana", family="Peeters")
        token = tokens.mint("ana", ["learner"])

        response = await svc.client.post(
            "/backpack/session", data={"token": token, "lang": "nl"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"{BASE}/backpack?lang=nl"
        cookie = response.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
        assert cookie.startswith(f"tessera_backpack={token};")
        assert {"httponly", "secure", "path", "samesite", "max-age"} <= set(attributes)
        assert attributes["path"] == "Path=/backpack" and attributes["samesite"].lower() == "samesite=lax"
        assert 0 < int(attributes["max-age"].split("=")[1]) <= 1800
        assert token not in response.headers["location"] and token not in response.text

        svc.client.cookies.set("tessera_backpack", token, domain=urlsplit(BASE).hostname, path="/backpack")
        page = await svc.client.get("/backpack?lang=nl")
        assert page.status_code == 200
        html = Html(page.text)
        check_accessible_basics(html, "nl")
        assert html.text("h1") == "Mijn rugzak" and html.text("p", id="signed-in") == "Aangemeld als Ana Peeters"
        assert [c["attrs"]["data-key"] for c in html.find("article", class_="card credential")] == [key_of(row)]
        assert token not in page.text
        sign_out = [f for f in html.find("form") if f["attrs"]["action"] == f"{BASE}/backpack/sign-out"]
        assert len(sign_out) == 1

        out = await svc.client.post("/backpack/sign-out", data={"lang": "nl"}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == f"{BASE}/backpack?lang=nl"
        assert out.headers["set-cookie"].startswith('tessera_backpack="";') or "Max-Age=0" in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"] and "Path=/backpack" in out.headers["set-cookie"]

        # a bad token gets the sign-in page again and no cookie; a staff token is refused
        svc.client.cookies.clear()
        bad = await svc.client.post("/backpack/session", data={"token": "x" + token[1:]}, follow_redirects=False)
        assert bad.status_code == 401 and "set-cookie" not in bad.headers
        staff = tokens.mint("alice", ["assessor"], "ugent.be")
        refused = await svc.client.post("/backpack/session", data={"token": staff}, follow_redirects=False)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        # an expired cookie is cleared, not trusted
        stale = tokens.mint("ana", ["learner"], now=time.time() - 7200)
        svc.client.cookies.set("tessera_backpack", stale, domain=urlsplit(BASE).hostname, path="/backpack")
        gone = await svc.client.get("/backpack")
        assert gone.status_code == 401 and "Max-Age=0" in gone.headers["set-cookie"]
        # malformed forms
        assert (await svc.client.post("/backpack/session", json={"token": token})).status_code == 415
        huge = {"token": "a" * 20_000}
        assert (await svc.client.post("/backpack/session", data=huge)).status_code == 413
        captured = capsys.readouterr()
        assert token not in captured.out + captured.err  # tokens are never logged
        assert staff not in captured.out + captured.err


async def test_progress_in_each_enrolment_comes_from_the_explanation(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")  # awarded through off-1
        async with pool.acquire() as conn:
            await second_offering(conn)
            await seed_learner(conn, "bob")
            await enrol(conn, "bob", "off-2")  # bob: only C1 passed so far

        ana = Html((await svc.client.get("/backpack", headers=tokens.headers("ana", ["learner"]))).text)
        [offering] = ana.find("article", class_="card offering")
        assert offering["attrs"]["data-offering"] == "off-1"
        assert ana.one("p", class_="outcome")["attrs"]["data-outcome"] == "awarded"
        assert [a for a in ana.find("a") if a["attrs"]["href"] == f"{BASE}/c/{key_of(row)}?lang=en"]
        assert ana.one("progress")["attrs"] == {"id": "progress-1", "max": "3", "value": "3"}

        response = await svc.client.get(
            "/backpack", headers={**tokens.headers("bob", ["learner"]), "Accept-Language": "nl"}
        )
        bob = Html(response.text)
        check_accessible_basics(bob, "nl")
        assert bob.text("p", id="no-credentials") == "U hebt nog geen credentials."
        [offering] = bob.find("article", class_="card offering")
        assert offering["attrs"]["data-offering"] == "off-2"
        assert bob.text("h3", id="off-1") == "Verantwoorde datawetenschap (voorjaar)"  # the title in Dutch
        assert bob.one("p", class_="outcome")["attrs"]["data-outcome"] == "not_met"
        assert bob.text("p", class_="outcome") == "Criteria nog niet voldaan"
        assert bob.one("progress")["attrs"] == {"id": "progress-1", "max": "3", "value": "1"}
        criteria = bob.text("ul", class_="criteria")
        assert "niet voldaan: 1 van 3 criteria voldaan (3 vereist); nog niet bekend voor: C2, C3" in criteria
        assert "voldaan: Onderdeel C1 geslaagd" in criteria
        assert "niet voldaan: Onderdeel C2: nog geen resultaat" in criteria
        assert "niet voldaan: Onderdeel C3: nog geen resultaat" in criteria
        assert key_of(row) not in response.text  # ana's credential is not on bob's page
