"""Shared test data for the proofs tests and bench/canonicalization.py.

- `STANDARDS`: the offline standards mirror (env TESSERA_STANDARDS_DIR, default ../shared/standards
  next to the repository), read at test time, never copied into the tests.
- `VECTOR_LOADER`: the production context loader plus the W3C examples context, which the W3C
  vectors need and production must not allow.
- `generate_ob3_credentials`: seeded OB 3.0-shaped credentials with hostile-but-valid content
  (unicode of every plane, control characters, quotes, numbers, arrays, anonymous objects).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tessera_credential.proofs import ContextLoader
from tessera_credential.proofs.contexts import CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS

REPO = Path(__file__).resolve().parents[3]
STANDARDS = Path(os.environ.get("TESSERA_STANDARDS_DIR", REPO / ".." / "shared" / "standards")).resolve()
W3C = STANDARDS / "test-vectors" / "w3c-vc-di-eddsa"
EDTECH = STANDARDS / "test-vectors" / "1edtech-ob3"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
VECTOR_LOADER = ContextLoader({EXAMPLES_V2: STANDARDS / "contexts" / "credentials-examples-v2.jsonld"})


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


_TEXTS = [
    "Teamwork", "Data Literacy for Engineers", "Micro-credential in Circular Economy (6 ECTS)",
    "Université de Gand — Faculté des Sciences", "Łódź University of Technology", "Ελληνικά μαθήματα",
    "Uniwersytet Jagielloński", "Universitat de València", "東京大学 データサイエンス", "한국어 과정",
    "جامعة القاهرة", "קורס בעברית", "Emoji 🎓👩🏽‍🔬✅", "astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and private use \ue000\uf8ff",
    'quote " and backslash \\ and apostrophe \'', "line one\nline two\r\nline three", "tab\tseparated",
    "controls \x01\x08\x0b\x0c\x1f\x7f end", "line separator \u2028 paragraph \u2029", "combining e\u0301 vs é",
    "zero width \u200b joiner \u200d", "   leading and trailing spaces   ", "", "<not-an-iri> _:b0 .",
    "snowman ☃ and BOM \ufeff inside", "maths ∑∫√∞ ≤ ≥", "Ünïcödé ßtraße", "mixed 123 and 4.5e6 text",
]
_UNIVERSITIES = ["ugent.be", "uva.nl", "ku.dk", "unibo.it", "uni-heidelberg.de", "uw.edu.pl", "tcd.ie"]
_ACHIEVEMENT_TYPES = ["Course", "Certificate", "MicroCredential", "Badge", "Competency", "Assessment"]


def _text(rng: random.Random) -> str:
    parts = rng.sample(_TEXTS, rng.randint(1, 3))
    return " · ".join(parts) if rng.random() < 0.5 else parts[0]


def _number(rng: random.Random) -> int | float:
    """A JSON number. Doubles are drawn until JSON-LD's 16-digit form ("%1.15E") is also their
    shortest form: other doubles (-9.527 -> "-9.526999999999999E0") are routed to the pyld path on
    purpose, and tested separately."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randint(0, 60)
    if kind == 1:
        while True:
            value = round(rng.uniform(-180, 180), rng.randint(1, 6))
            if Decimal(f"{value:1.15E}") == Decimal(repr(value)):
                return value
    if kind == 2:
        return rng.choice([0.5, 2.5, 7.5, 30.0, 1e-3, 123456.789, -0.25, 6.02e23])
    return rng.randint(-(2**53) + 1, 2**53 - 1)


def _date(rng: random.Random) -> str:
    return f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _datetime(rng: random.Random) -> str:
    return f"{_date(rng)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def _alignment(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {"type": ["Alignment"], "targetName": _text(rng),
                            "targetUrl": f"https://esco.ec.europa.eu/skill/{rng.randint(1, 9999)}"}
    if rng.random() < 0.5:
        item["targetFramework"] = rng.choice(["ESCO", "EQF", "ISCED-F"])
    if rng.random() < 0.3:
        item["targetCode"] = str(rng.randint(100, 999))
    return item


def _achievement(rng: random.Random, uni: str) -> dict[str, Any]:
    achievement: dict[str, Any] = {
        "id": f"https://{uni}/achievements/{rng.randint(1, 10**6)}",
        "type": ["Achievement"],
        "name": _text(rng),
        "description": _text(rng),
        "criteria": {"narrative": _text(rng)},
    }
    if rng.random() < 0.7:
        achievement["achievementType"] = rng.choice(_ACHIEVEMENT_TYPES)
    if rng.random() < 0.6:
        alignments = [_alignment(rng) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:  # identical anonymous objects: exercises RDFC N-degree hashing
            alignments.append(json.loads(json.dumps(alignments[0])))
        achievement["alignment"] = alignments
    if rng.random() < 0.6:
        achievement["creditsAvailable"] = _number(rng)
    if rng.random() < 0.5:
        achievement["tag"] = [_text(rng) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.4:
        achievement["image"] = {"id": f"https://{uni}/img/{rng.randint(1, 99)}.png", "type": "Image",
                                "caption": _text(rng)}
    if rng.random() < 0.4:
        achievement["resultDescription"] = [{
            "id": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}", "type": ["ResultDescription"],
            "name": _text(rng), "resultType": "GradePointAverage",
            "allowedValue": [str(v) for v in range(rng.randint(1, 4))],
            "rubricCriterionLevel": [{"type": ["RubricCriterionLevel"], "level": _text(rng),
                                      "points": _number(rng)}],
        }]
    return achievement


def generate_ob3_credential(rng: random.Random) -> dict[str, Any]:
    """One unsigned OB 3.0 AchievementCredential; every term is defined by the contexts."""
    uni = rng.choice(_UNIVERSITIES)
    issuer: dict[str, Any] = {"id": f"https://{uni}/issuers/{rng.randint(1, 999)}", "type": ["Profile"],
                              "name": _text(rng)}
    if rng.random() < 0.5:
        issuer["url"] = f"https://www.{uni}/"
    if rng.random() < 0.3:
        issuer["address"] = {"type": ["Address"], "addressCountryCode": uni.rsplit(".", 1)[1].upper(),
                             "addressLocality": _text(rng),
                             "geo": {"type": ["GeoCoordinates"], "latitude": _number(rng),
                                     "longitude": _number(rng)}}
    subject: dict[str, Any] = {"type": ["AchievementSubject"], "achievement": _achievement(rng, uni)}
    if rng.random() < 0.7:
        subject["id"] = f"did:example:{rng.getrandbits(64):x}"
    else:  # anonymous subject identified by a hashed email: blank nodes all the way down
        subject["identifier"] = [{"type": ["IdentityObject"], "identityType": "emailAddress", "hashed": True,
                                  "identityHash": f"sha256${rng.getrandbits(256):064x}", "salt": "pepper"}]
    if rng.random() < 0.5:
        subject["result"] = [{"type": ["Result"], "value": str(_number(rng)), "status": "Completed"}
                             for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        subject["creditsEarned"] = _number(rng)
        subject["activityStartDate"] = _date(rng)
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2, OB_V3P0],
        "id": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer,
        "validFrom": _datetime(rng),
        "name": _text(rng),
        "credentialSubject": subject,
    }
    if rng.random() < 0.5:
        credential["description"] = _text(rng)
    if rng.random() < 0.3:
        credential["validUntil"] = _datetime(rng)
    if rng.random() < 0.4:
        credential["evidence"] = [{"type": ["Evidence"], "name": _text(rng), "narrative": _text(rng)}]
    if rng.random() < 0.5:
        credential["credentialStatus"] = {
            "id": f"https://{uni}/status/1#{rng.randint(0, 131071)}", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": str(rng.randint(0, 131071)),
            "statusListCredential": f"https://{uni}/status/1",
        }
    if rng.random() < 0.3:
        credential["@context"].append(OB_V3P0_EXTENSIONS)
        credential["credentialSchema"] = [{
            "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
            "type": "1EdTechJsonSchemaValidator2019",
        }]
    return credential


def generate_ob3_credentials(count: int, seed: int = 20240501) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [generate_ob3_credential(rng) for _ in range(count)]
