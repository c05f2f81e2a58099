"""The demo consortium and cohort that ``make run`` seeds through the services' public APIs.

Three universities in three countries (Ghent, Amsterdam, Heidelberg) co-offer a joint 6-ECTS
micro-credential with a 2-ECTS component taught at each; Ghent also offers a stand-alone one; a
pathway stacks the two. A cohort of seven learners enrols; results are recorded in each partner's
own grading scheme, with a failure, a resit, a correction that fails a component (the award is
revoked) and one that changes a passing grade (the award is superseded). The demo waits, bounded,
until the credential service has decided every award (and issued the credentials, where it shows
them) and prints where to look.

Idempotent: every id is fixed and every step looks first or treats "exists" (409) as done, so
running it again (a second ``make run``) changes nothing. Run alone:
``python -m tessera_shared.demo --base http://127.0.0.1 --key .data/keys/operator-private.pem``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tessera_shared.demo import data, seed
from tessera_shared.demo.api import SERVICES, Api, DemoError, Endpoints, until
from tessera_shared.demo.credentials import IssuedCredential, credentials_of, discover

__all__ = ["DemoError", "DemoReport", "Endpoints", "run_demo", "run_demo_sync"]

Say = Callable[[str], None]


@dataclass
class DemoReport:
    endpoints: Endpoints
    tally: Counter[str] = field(default_factory=Counter)
    awards: dict[str, dict[str, Any]] = field(default_factory=dict)  # learner id -> GET …/awards
    credentials: list[IssuedCredential] = field(default_factory=list)
    signing_visible: bool = False  # the credential service shows issued credentials
    completed_enrolments: int = 0

    @property
    def all_awards(self) -> list[dict[str, Any]]:
        return [a for awards in self.awards.values() for a in awards["awards"]]

    @property
    def pathway_awards(self) -> list[dict[str, Any]]:
        return [p for awards in self.awards.values() for p in awards["pathway_awards"]]

    @property
    def credentials_issued(self) -> int:
        """Signed credentials issued when the service shows them; else awards decided (each is a
        credential to sign)."""
        if self.signing_visible:
            return len(self.credentials)
        return len(self.all_awards) + len(self.pathway_awards)

    def summary(self) -> str:
        statuses = Counter(a["status"] for a in self.all_awards)
        names = {learner.learner_id: f"{learner.given_name} {learner.family_name}" for learner in data.COHORT}
        titles = {mc.micro_credential_id: mc.content["title"]["en"] for mc in data.MICRO_CREDENTIALS}
        lines = [
            f"awards: {len(self.all_awards)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}), "
            f"pathway awards: {len(self.pathway_awards)}, enrolments completed: {self.completed_enrolments}",
            f"credentials issued: {self.credentials_issued}"
            + ("" if self.signing_visible else " (awards decided; signed credentials not shown by this service)"),
            "API docs:",
            *(f"  {name:<11} {self.endpoints.of(name)}/docs" for name in SERVICES),
        ]
        if self.credentials:
            lines.append("issued credentials (verification page, else the signed JSON):")
            for c in self.credentials:
                what = f"{c.title}: " if c.title else ""
                link = c.verification_url or c.json_url
                lines.append(f"  {names.get(c.learner_id, c.learner_id):<15} {c.status:<10} {what}{link}")
            lines.append(f"  verify any of them: POST {self.endpoints.of('credential')}/verify with its JSON")
        else:
            base = self.endpoints.of("credential")
            lines.append("awards (operator token: uv run tessera token mint --sub me --role operator):")
            for a in self.all_awards:
                who = names.get(a["learner_id"], a["learner_id"])
                title = titles.get(a["micro_credential_id"], a["micro_credential_id"])
                lines.append(f"  {who:<15} {a['status']:<10} {title}: {base}/awards/{a['award_id']}")
            for p in self.pathway_awards:
                who = names.get(p["learner_id"], p["learner_id"])
                lines.append(f"  {who:<15} {p['status']:<10} pathway: {base}/pathway-awards/{p['award_id']}")
        return "\n".join(lines)


def _line(tally: Counter[str], *keys: str) -> str:
    return ", ".join(f"{tally[k]} {k}" for k in keys if tally[k])


async def run_demo(
    endpoints: Endpoints,
    private_pem: bytes,
    *,
    clients: Mapping[str, httpx.AsyncClient] | None = None,
    wait_seconds: float = 300.0,
    say: Say = print,
) -> DemoReport:
    """Seed the consortium and the cohort and wait (at most ``wait_seconds`` in all) until the
    credential service has decided every award. Raises :class:`DemoError` on a step that fails."""
    deadline = time.monotonic() + wait_seconds
    report = DemoReport(endpoints)
    t = report.tally
    async with Api(endpoints, private_pem, dict(clients or {})) as api:
        today = seed.consortium_today()
        await seed.register_institutions(api, t)
        await seed.publish_programmes(api, t)
        await seed.schedule_offerings(api, t, today)
        say(
            "demo: consortium — "
            + _line(
                t,
                "institution created",
                "institution existed",
                "micro-credential published",
                "micro-credential existed",
                "pathway published",
                "pathway existed",
                "offering scheduled",
                "offering existed",
                "offering opened",
            )
        )
        await seed.register_learners(api, t)
        await seed.wait_offerings_open(api, deadline)
        await seed.enrol_cohort(api, t)
        await seed.record_results(api, t, deadline)
        issuance = await discover(api)
        report.signing_visible = issuance.discoverable
        await seed.wait_first_awards(api, deadline, issuance)
        await seed.correct_results(api, t)
        say(
            "demo: cohort — "
            + _line(
                t,
                "learner registered",
                "learner existed",
                "enrolment admitted",
                "enrolment existed",
                "result recorded",
                "result existed",
                "result corrected",
                "correction existed",
            )
        )
        say("demo: waiting for the awards, the completed enrolments and the signed credentials …")
        report.awards = await seed.wait_final_awards(api, deadline)
        report.completed_enrolments = await seed.wait_enrolments_completed(api, report.awards, deadline)
        if issuance.discoverable:

            async def issued() -> list[IssuedCredential] | None:
                """Every award's credential issued, revoked or superseded as its award was."""
                found: list[IssuedCredential] = []
                for learner_id, awards in report.awards.items():
                    mine = await credentials_of(api, issuance, learner_id, awards["awards"])
                    expected = Counter(a["status"] for a in awards["awards"] + awards["pathway_awards"])
                    if Counter(c.status for c in mine) != expected:
                        return None
                    found += mine
                return found

            report.credentials = await until(issued, "the credential service to issue every award", deadline, 0.5)
    return report


def run_demo_sync(
    endpoints: Endpoints, private_pem: bytes, *, timeout: float = 300.0, say: Say | None = None
) -> DemoReport:
    def _say(line: str) -> None:
        print(line, flush=True)

    return asyncio.run(run_demo(endpoints, private_pem, wait_seconds=timeout, say=say or _say))
