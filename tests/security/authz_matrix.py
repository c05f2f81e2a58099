"""THE authorisation matrix: every non-public endpoint of the four services × every principal.

Principals (columns): no token, a forged token (right claims, another key), the operator, and for
each staff role a member of the **coordinating** institution (Ghent, which also teaches RAI-ETH), of
a **partner** (Amsterdam, teaches RAI-LAW) and of an **outside** institution (KU Leuven, registered
but in no programme); two learners: **own** (the learner whose data the row targets) and **other**.

Rows: one per endpoint (some endpoints twice, for a learner's own and another's data). ``ok`` lists
the principals that must get a 2xx (``status``, default 200); ``also`` maps principals to any other
expected status (404, 409: authorised, but the state refuses); ``html`` marks a page for people, whose
refusals are HTML (a sign-in page) rather than problem+json. Everyone else with a valid token
gets **403**; no token and the forged token get **401**. Paths name the targets of the world
(``tests/security/authz_world.py``); ``fresh`` names a factory that makes a new target for each
principal that must succeed (state-changing commands), ``body`` a request body builder. Bodies are
valid for the target, so a 403 is the authorisation speaking, not validation.

The test (``test_authz_matrix.py``) also checks that every non-public operation in the four OpenAPI
documents has a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ANON, FORGED, OPERATOR = "anonymous", "forged-token", "operator"
ROLES = {
    "editor": "catalogue-editor",
    "registrar": "registrar",
    "assessor": "assessor",
    "officer": "credential-officer",
}
PLACES = {"coord": "ugent.be", "partner": "uva.nl", "other": "kuleuven.be"}
LEARNER_OWN, LEARNER_OTHER = "learner:own", "learner:other"
STAFF = tuple(f"{r}@{p}" for r in ROLES for p in PLACES)
PRINCIPALS = (ANON, FORGED, OPERATOR, *STAFF, LEARNER_OWN, LEARNER_OTHER)
AUTHENTICATED = frozenset(PRINCIPALS) - {ANON, FORGED}
LEARNERS = frozenset({LEARNER_OWN, LEARNER_OTHER})


def staff(roles: str = "editor registrar assessor officer", places: str = "coord partner other") -> frozenset[str]:
    return frozenset(f"{r}@{p}" for r in roles.split() for p in places.split())


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str
    ok: frozenset[str]
    also: dict[str, int] = field(default_factory=dict)
    status: int = 200
    body: str | None = None
    fresh: str | None = None
    html: bool = False  # a page for people: its refusals are HTML pages, not problem+json
    note: str = ""

    @property
    def operation(self) -> tuple[str, str, str]:
        return self.service, self.method, self.path

    def expected(self, principal: str) -> int:
        if principal in (ANON, FORGED):
            return 401
        if principal in self.ok:
            return self.status
        return self.also.get(principal, 403)


def R(service: str, method: str, path: str, ok: frozenset[str] | set[str], **kw: object) -> Row:
    return Row(service, method, path, frozenset(ok), **kw)  # type: ignore[arg-type]


OP = {OPERATOR}
READERS_ASSESSMENT = staff("editor registrar assessor") | OP | LEARNERS  # assessment's READERS roles
CREDENTIAL_READERS = staff("registrar assessor officer") | OP | LEARNERS

TABLE: tuple[Row, ...] = (
    # ------------------------------------------------------------------ every service: operations
    *(R(s, "GET", "/admin/status", OP) for s in ("catalogue", "enrolment", "assessment", "credential")),
    # ------------------------------------------------------------------ catalogue
    R("catalogue", "POST", "/institutions", OP, status=201, fresh="institution_body", body="institution"),
    R("catalogue", "PUT", "/institutions/{outside_institution}", OP, body="outside_institution_profile"),
    R("catalogue", "POST", "/micro-credentials", staff("editor"), status=201, fresh="new_mc_body", body="new_mc"),
    R(
        "catalogue",
        "GET",
        "/micro-credentials/{mc}",
        staff("editor", "coord partner") | OP,
        note="the working state: partners' editors and the operator",
    ),
    R(
        "catalogue",
        "PUT",
        "/micro-credentials/{mc_draft}/draft",
        staff("editor", "coord"),
        fresh="mc_draft",
        body="mc_content",
    ),
    R("catalogue", "POST", "/micro-credentials/{mc_draft}/propose", staff("editor", "coord"), fresh="mc_draft"),
    R("catalogue", "POST", "/micro-credentials/{mc_proposed}/withdraw", staff("editor", "coord"), fresh="mc_proposed"),
    R(
        "catalogue",
        "POST",
        "/micro-credentials/{mc_proposed}/approve",
        staff("editor", "coord partner"),
        fresh="mc_proposed",
        note="each listed partner approves for itself",
    ),
    R(
        "catalogue",
        "POST",
        "/micro-credentials/{mc_proposed}/reject",
        staff("editor", "coord partner"),
        fresh="mc_proposed",
        body="reason",
    ),
    R("catalogue", "POST", "/micro-credentials/{mc_approved}/publish", staff("editor", "coord"), fresh="mc_approved"),
    R(
        "catalogue",
        "POST",
        "/micro-credentials/{mc_published}/retire",
        staff("editor", "coord"),
        fresh="mc_published",
        body="reason",
    ),
    R(
        "catalogue",
        "POST",
        "/offerings",
        staff("editor", "coord"),
        status=201,
        fresh="new_offering_body",
        body="new_offering",
    ),
    R(
        "catalogue",
        "POST",
        "/offerings/{offering_scheduled}/open",
        staff("editor", "coord") | OP,
        fresh="offering_scheduled",
    ),
    R("catalogue", "POST", "/offerings/{offering_open}/close", staff("editor", "coord") | OP, fresh="offering_open"),
    R(
        "catalogue",
        "POST",
        "/offerings/{offering_closed}/start",
        staff("editor", "coord") | OP,
        fresh="offering_closed",
    ),
    R(
        "catalogue",
        "POST",
        "/offerings/{offering_running}/finish",
        staff("editor", "coord") | OP,
        fresh="offering_running",
    ),
    R(
        "catalogue",
        "POST",
        "/offerings/{offering_scheduled}/cancel",
        staff("editor", "coord"),
        fresh="offering_scheduled",
        body="reason",
        note="the operator may take the dated steps but not cancel",
    ),
    R("catalogue", "POST", "/pathways", staff("editor"), status=201, fresh="new_pathway_body", body="new_pathway"),
    R("catalogue", "GET", "/pathways/{pathway}", staff("editor", "coord partner") | OP),
    R("catalogue", "PUT", "/pathways/{pw_draft}/draft", staff("editor", "coord"), fresh="pw_draft", body="pw_content"),
    R("catalogue", "POST", "/pathways/{pw_draft}/propose", staff("editor", "coord"), fresh="pw_draft"),
    R("catalogue", "POST", "/pathways/{pw_proposed}/withdraw", staff("editor", "coord"), fresh="pw_proposed"),
    R("catalogue", "POST", "/pathways/{pw_proposed}/approve", staff("editor", "coord partner"), fresh="pw_proposed"),
    R(
        "catalogue",
        "POST",
        "/pathways/{pw_proposed}/reject",
        staff("editor", "coord partner"),
        fresh="pw_proposed",
        body="reason",
    ),
    R("catalogue", "POST", "/pathways/{pw_approved}/publish", staff("editor", "coord"), fresh="pw_approved"),
    # ------------------------------------------------------------------ enrolment
    R(
        "enrolment",
        "POST",
        "/learners",
        staff("registrar") | OP,
        status=201,
        fresh="new_learner_body",
        body="new_learner",
        also={LEARNER_OWN: 409, LEARNER_OTHER: 409},
        note="a learner registers themself (id = token subject): both learners exist already, so 409",
    ),
    R("enrolment", "GET", "/learners/me", LEARNERS),
    R("enrolment", "GET", "/learners", staff("registrar") | OP),
    R(
        "enrolment",
        "GET",
        "/learners/{learner_own}",
        {LEARNER_OWN, *staff("registrar", "coord partner"), OPERATOR},
        note="registrars: home/registering institution or a partner of an offering the learner is in",
    ),
    R(
        "enrolment",
        "PATCH",
        "/learners/{learner_own}",
        {LEARNER_OWN, *staff("registrar", "coord"), OPERATOR},
        body="learner_patch",
        note="registrars of the home or registering institution",
    ),
    R("enrolment", "GET", "/offerings", AUTHENTICATED),
    R("enrolment", "GET", "/offerings/{joint}", AUTHENTICATED),
    R(
        "enrolment",
        "POST",
        "/enrolments",
        {LEARNER_OWN, *staff("registrar", "coord partner"), OPERATOR},
        status=201,
        fresh="new_enrolment_body",
        body="new_enrolment",
        note="learner:own enrols themself; staff enrol a new learner; learner:other may not enrol learner:own",
    ),
    R("enrolment", "GET", "/enrolments", {*LEARNERS, *staff("registrar"), OPERATOR}),
    R("enrolment", "GET", "/enrolments/{enrolment_own}", {LEARNER_OWN, *staff("registrar", "coord partner"), OPERATOR}),
    R(
        "enrolment",
        "POST",
        "/enrolments/{enrolment_own}/review",
        set(),
        body="review",
        also={"registrar@coord": 409, OPERATOR: 409},
        note="the coordinator's registrars and the operator may review; the enrolment is not pending review: 409",
    ),
    R(
        "enrolment",
        "POST",
        "/enrolments/{enrolment_fresh}/cancel",
        {LEARNER_OWN, *staff("registrar", "coord partner"), OPERATOR},
        fresh="enrolment_fresh",
        body="empty",
    ),
    R(
        "enrolment",
        "POST",
        "/enrolments/{enrolment_fresh}/withdraw",
        {*staff("registrar", "coord partner"), OPERATOR},
        fresh="enrolment_fresh",
        body="empty",
    ),
    R(
        "enrolment",
        "POST",
        "/bulk-enrolments",
        staff("registrar") | OP,
        status=201,
        fresh="bulk_body",
        body="bulk",
        note="any registrar may upload; rows for offerings their institution does not take part in fail per row",
    ),
    R(
        "enrolment",
        "GET",
        "/bulk-enrolments/{bulk_batch}",
        {"registrar@coord", OPERATOR},
        note="the submitter (registrar@coord), registrars of the same institution, operators",
    ),
    # ------------------------------------------------------------------ assessment
    R(
        "assessment",
        "POST",
        "/offerings/{joint}/results",
        {"assessor@coord"},
        status=201,
        fresh="result_body",
        body="result",
        note="assessors of the institution teaching the component (RAI-ETH: Ghent)",
    ),
    R(
        "assessment",
        "POST",
        "/results/{result_fresh}/corrections",
        {"assessor@coord"},
        fresh="result_fresh",
        body="correction",
    ),
    R(
        "assessment",
        "POST",
        "/results/{result_fresh}/withdrawal",
        {"assessor@coord"},
        fresh="result_fresh",
        body="reason",
    ),
    R(
        "assessment",
        "GET",
        "/results/{result_own}",
        {LEARNER_OWN, "assessor@coord", "registrar@coord", "editor@coord", OPERATOR},
        note="RAI-ETH is Ghent's: Amsterdam's staff see only RAI-LAW",
    ),
    R(
        "assessment",
        "GET",
        "/offerings/{joint}/results",
        READERS_ASSESSMENT - staff("editor registrar assessor", "other"),
        note="a learner sees their own; partners their components; an outside institution nothing",
    ),
    R(
        "assessment",
        "GET",
        "/offerings/{joint}/results?learner_id={learner_own}",
        READERS_ASSESSMENT - staff("editor registrar assessor", "other") - {LEARNER_OTHER},
    ),
    R("assessment", "GET", "/me/results", LEARNERS),
    R(
        "assessment",
        "POST",
        "/offerings/{joint}/results/uploads",
        staff("assessor", "coord partner"),
        status=201,
        fresh="upload_body",
        body="upload",
        note="Amsterdam teaches a component: its upload is taken, the RAI-ETH rows refused one by one",
    ),
    R("assessment", "GET", "/uploads/{upload}", {"assessor@coord", OPERATOR}),
    R("assessment", "POST", "/offerings/{joint}/attendance", {"assessor@coord"}, status=201, body="attendance"),
    R(
        "assessment",
        "GET",
        "/offerings/{joint}/attendance",
        READERS_ASSESSMENT - staff("editor registrar assessor", "other"),
    ),
    R("assessment", "GET", "/offerings/{joint}", READERS_ASSESSMENT, note="what assessment knows of the offering"),
    # ------------------------------------------------------------------ credential
    R(
        "credential",
        "GET",
        "/learners/{learner_own}/awards",
        CREDENTIAL_READERS - {LEARNER_OTHER},
        note="staff of any institution: the awards of their institution's offerings (maybe none)",
    ),
    R(
        "credential",
        "GET",
        "/awards/{award_own}",
        {LEARNER_OWN, OPERATOR, *staff("registrar assessor officer", "coord partner")},
    ),
    R(
        "credential",
        "GET",
        "/pathway-awards/{pathway_award_own}",
        {LEARNER_OWN, OPERATOR, *staff("registrar assessor officer", "coord partner")},
    ),
    R(
        "credential",
        "GET",
        "/learners/{learner_own}/offerings/{joint}/explanation",
        {LEARNER_OWN, OPERATOR, *staff("registrar assessor officer", "coord partner")},
    ),
    R(
        "credential",
        "GET",
        "/offerings/{joint}/evaluations",
        {OPERATOR, *staff("registrar assessor officer", "coord partner")},
    ),
    R("credential", "POST", "/institutions/{outside_institution}/keys/rotate", OP),
    R(
        "credential",
        "GET",
        "/backpack",
        LEARNERS,
        html=True,
        note="a learner's own backpack (each learner sees their own); staff and operator tokens: 403 sign-in page",
    ),
)
