"""What the demo seeds: three universities, a joint and a stand-alone micro-credential, a pathway
stacking them, an offering of each, and a cohort whose results exercise the awarding rules.

Every id is fixed, so seeding again finds what is there instead of duplicating it. Offering dates
are relative to the day the demo first runs (enrolment open around today, within the academic year
that contains today), because learners can enrol only while an offering's window is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

GENT, AMSTERDAM, HEIDELBERG = "ugent.be", "uva.nl", "uni-heidelberg.de"
INSTITUTIONS: tuple[dict[str, Any], ...] = (
    {
        "institution_id": GENT,
        "erasmus_code": "B  GENT01",
        "name": {"nl": "Universiteit Gent", "en": "Ghent University"},
        "country": "BE",
        "region": "BE-VOV",
        "website": "https://www.ugent.be/",
        "contact": {"email": "microcredentials@ugent.be"},
        "grading_scheme_ids": ["be-flemish-0-20"],
    },
    {
        "institution_id": AMSTERDAM,
        "erasmus_code": "NL AMSTERD01",
        "name": {"nl": "Universiteit van Amsterdam", "en": "University of Amsterdam"},
        "country": "NL",
        "website": "https://www.uva.nl/",
        "contact": {"email": "microcredentials@uva.nl"},
        "grading_scheme_ids": ["nl-1-10"],
    },
    {
        "institution_id": HEIDELBERG,
        "erasmus_code": "D  HEIDELB01",
        "name": {"de": "Universität Heidelberg", "en": "Heidelberg University"},
        "country": "DE",
        "region": "DE-BW",
        "website": "https://www.uni-heidelberg.de/",
        "contact": {"email": "microcredentials@uni-heidelberg.de"},
        "grading_scheme_ids": ["de-1-5"],
    },
)
INSTITUTION_NAMES = {i["institution_id"]: i["name"].get("en", next(iter(i["name"].values()))) for i in INSTITUTIONS}

JOINT, STANDALONE, PATHWAY = "mc-demo-responsible-ai", "mc-demo-data-visualisation", "pw-demo-data-science"
JOINT_OFFERING, STANDALONE_OFFERING = "off-demo-responsible-ai", "off-demo-data-visualisation"


@dataclass(frozen=True)
class MicroCredentialSeed:
    micro_credential_id: str
    coordinator: str
    content: dict[str, Any]

    @property
    def partners(self) -> list[str]:
        return [p["institution_id"] for p in self.content["partners"]]


def _joint_content() -> dict[str, Any]:
    return {
        "title": {
            "en": "Responsible AI in Practice",
            "nl": "Verantwoorde AI in de praktijk",
            "de": "Verantwortungsvolle KI in der Praxis",
        },
        "description": {
            "en": "A joint micro-credential of three universities: the ethics, the law and the engineering "
            "of AI systems, one component taught at each partner.",
        },
        "learning_outcomes": [
            {
                "id": "LO1",
                "text": {"en": "Assess the ethical risks of an AI system"},
                "esco_skill": "http://data.europa.eu/esco/skill/5b4a5c1a-2a2e-4a43-9d0e-4f4d1e9f3c11",
            },
            {"id": "LO2", "text": {"en": "Apply the EU AI Act and the GDPR to an AI project"}},
            {"id": "LO3", "text": {"en": "Evaluate a model for bias and robustness"}},
        ],
        "workload": {"ects": "6", "notional_hours": 168},
        "level": {"eqf": 7, "qf_ehea": "second_cycle"},
        "isced_field": "0613",
        "languages": ["en"],
        "participation": {"mode": "blended", "evening": True, "distance": True},
        "assessment": {"methods": ["project", "written_exam"]},
        "supervision": {"supervision": "supervised_online", "identity_verification": "online"},
        "quality_assurance": {
            "kind": "external",
            "agency": "NVAO",
            "deqar_id": "DEQARINST0001",
            "url": "https://www.nvao.net/",
        },
        "prerequisites": {"kind": "none"},
        "grading": {
            "scheme_ids": ["be-flemish-0-20", "nl-1-10", "de-1-5"],
            "description": {"en": "Each component is graded on its teaching university's own scale."},
        },
        "integration": {"stackable": True, "description": {"en": "Stacks into the Data Science pathway."}},
        "further_information_url": "https://www.ugent.be/microcredentials/responsible-ai",
        "components": [
            {
                "code": "RAI-ETH",
                "title": {"en": "Ethics of AI"},
                "ects": "2",
                "semester": "first",
                "learning_outcome_ids": ["LO1"],
                "teaching_institution": GENT,
            },
            {
                "code": "RAI-LAW",
                "title": {"en": "AI and the law"},
                "ects": "2",
                "semester": "first",
                "learning_outcome_ids": ["LO2"],
                "teaching_institution": AMSTERDAM,
            },
            {
                "code": "RAI-ENG",
                "title": {"en": "Trustworthy machine learning"},
                "ects": "2",
                "semester": "second",
                "learning_outcome_ids": ["LO3"],
                "teaching_institution": HEIDELBERG,
            },
        ],
        "partners": [
            {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
            {"institution_id": AMSTERDAM, "roles": ["contributing", "awarding"]},
            {"institution_id": HEIDELBERG, "roles": ["contributing", "awarding"]},
        ],
        "criteria": {
            "rule": {
                "kind": "all_of",
                "criteria": [
                    {"kind": "component_passed", "component": "RAI-ETH"},
                    {"kind": "component_passed", "component": "RAI-LAW"},
                    {"kind": "component_passed", "component": "RAI-ENG"},
                    {"kind": "weighted_average_grade", "minimum": "0.55"},
                ],
            },
            "validity_months": 60,
        },
    }


def _standalone_content() -> dict[str, Any]:
    return {
        "title": {"en": "Data Visualisation", "nl": "Datavisualisatie"},
        "description": {"en": "Designing honest, accessible charts and dashboards."},
        "learning_outcomes": [{"id": "LO1", "text": {"en": "Design an accessible dashboard for a dataset"}}],
        "workload": {"ects": "3", "notional_hours": 84},
        "level": {"eqf": 6, "qf_ehea": "first_cycle"},
        "isced_field": "0612",
        "languages": ["en", "nl"],
        "participation": {"mode": "online", "distance": True},
        "assessment": {"methods": ["project"]},
        "supervision": {"supervision": "unsupervised", "identity_verification": "none"},
        "quality_assurance": {"kind": "internal", "description": {"en": "Ghent University's programme review"}},
        "prerequisites": {"kind": "none"},
        "grading": {"scheme_ids": ["be-flemish-0-20"]},
        "integration": {"stackable": True},
        "components": [
            {
                "code": "DV1",
                "title": {"en": "Data visualisation studio"},
                "ects": "3",
                "semester": "first",
                "learning_outcome_ids": ["LO1"],
                "teaching_institution": GENT,
            }
        ],
        "partners": [{"institution_id": GENT, "roles": ["coordinator", "awarding"]}],
        "criteria": {"rule": {"kind": "component_passed", "component": "DV1"}},
    }


MICRO_CREDENTIALS = (
    MicroCredentialSeed(JOINT, GENT, _joint_content()),
    MicroCredentialSeed(STANDALONE, GENT, _standalone_content()),
)

PATHWAY_CONTENT: dict[str, Any] = {
    "title": {"en": "Data Science for the Public Good"},
    "description": {"en": "Stack Responsible AI in Practice and Data Visualisation."},
    "micro_credential_ids": [JOINT, STANDALONE],
    "rule": {"kind": "all_of"},
    "level": {"eqf": 7},
    "languages": ["en"],
    "partners": [
        {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
        {"institution_id": AMSTERDAM, "roles": ["contributing"]},
        {"institution_id": HEIDELBERG, "roles": ["contributing"]},
    ],
}
PATHWAY_COORDINATOR = GENT


def academic_year_of(day: date) -> str:
    """The consortium's academic year (1 August - 31 July) containing ``day``."""
    year = day.year if day.month >= 8 else day.year - 1
    return f"{year}-{year + 1}"


def offering_terms(today: date, *, capacity: int = 40) -> dict[str, Any]:
    """Enrolment open from a month ago to a month ahead; the offering starts today (so it lies in
    the academic year containing today) and ends five months later."""
    academic_year = academic_year_of(today)
    start = int(academic_year[:4])
    return {
        "academic_year": academic_year,
        "period": "full_year",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=150)).isoformat(),
        "enrolment": {
            "opens_on": (today - timedelta(days=30)).isoformat(),
            "closes_on": (today + timedelta(days=30)).isoformat(),
        },
        "capacity": capacity,
        "waitlist": True,
        "schedule": {"en": "Thursday evenings 18:00-21:00, online"},
        "attendance": {"compulsory": False},
        "tariff": {"kind": "per_ects", "rate": "40.00"},
        "refund_policy": {
            "rules": [
                {"before": date(start, 12, 1).isoformat(), "refund": "full"},
                {"before": date(start + 1, 3, 15).isoformat(), "refund": "second_semester_credits"},
                {"before": None, "refund": "none"},
            ]
        },
    }


OFFERINGS = ((JOINT_OFFERING, JOINT), (STANDALONE_OFFERING, STANDALONE))
TEACHER = {"RAI-ETH": GENT, "RAI-LAW": AMSTERDAM, "RAI-ENG": HEIDELBERG, "DV1": GENT}
OFFERING_OF = {JOINT: JOINT_OFFERING, STANDALONE: STANDALONE_OFFERING}


@dataclass(frozen=True)
class Result:
    """One attempt: ``grade`` in the teaching university's scheme (its first declared one)."""

    offering_id: str
    component: str
    grade: str
    attempt: int = 1


@dataclass(frozen=True)
class Correction:
    offering_id: str
    component: str
    grade: str
    reason: str


@dataclass(frozen=True)
class Learner:
    learner_id: str
    given_name: str
    family_name: str
    home_institution: str
    results: tuple[Result, ...]
    corrections: tuple[Correction, ...] = ()
    # what the awarding rules must end with: micro-credential -> statuses of its awards, in order
    expected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expected_pathway: bool = False

    @property
    def offerings(self) -> list[str]:
        return list(dict.fromkeys(r.offering_id for r in self.results))

    @property
    def email(self) -> str:
        return f"{self.given_name.lower()}.{self.family_name.lower()}@demo.tessera.example"


J, S = JOINT_OFFERING, STANDALONE_OFFERING


def _joint(eth: str, law: str, eng: str) -> tuple[Result, ...]:
    return (Result(J, "RAI-ETH", eth), Result(J, "RAI-LAW", law), Result(J, "RAI-ENG", eng))


COHORT: tuple[Learner, ...] = (
    Learner(
        "demo-anna-peeters",
        "Anna",
        "Peeters",
        GENT,
        (*_joint("15", "7.5", "1.7"), Result(S, "DV1", "14")),
        expected={JOINT: ("active",), STANDALONE: ("active",)},
        expected_pathway=True,
    ),
    Learner(
        "demo-bram-devries",
        "Bram",
        "DeVries",
        AMSTERDAM,
        _joint("12", "4.5", "2.0"),  # fails the law component: no award
        expected={JOINT: ()},
    ),
    Learner(
        "demo-clara-schmidt",
        "Clara",
        "Schmidt",
        HEIDELBERG,
        (*_joint("13", "6.8", "5.0"), Result(J, "RAI-ENG", "3.0", attempt=2)),  # passes at the resit
        expected={JOINT: ("active",)},
    ),
    Learner(
        "demo-daan-bakker",
        "Daan",
        "Bakker",
        AMSTERDAM,
        _joint("12", "6.0", "3.3"),
        corrections=(Correction(J, "RAI-ETH", "8", "marking error: the project was graded on the wrong rubric"),),
        expected={JOINT: ("revoked",)},  # the correction fails the ethics component
    ),
    Learner(
        "demo-eva-maes",
        "Eva",
        "Maes",
        GENT,
        _joint("14", "6.5", "2.7"),
        corrections=(Correction(J, "RAI-LAW", "8.0", "exam re-marked after review"),),
        expected={JOINT: ("superseded", "active")},  # still passes, better grade: a new credential
    ),
    Learner(
        "demo-felix-wagner",
        "Felix",
        "Wagner",
        HEIDELBERG,
        (Result(S, "DV1", "16"),),
        expected={STANDALONE: ("active",)},
    ),
    Learner(
        "demo-greta-jansen",
        "Greta",
        "Jansen",
        AMSTERDAM,
        (Result(S, "DV1", "7"),),  # fails
        expected={STANDALONE: ()},
    ),
)
