"""The compiled JSON Schema predicate (the fast "valid" answer of `documents.schemas.validate`) agrees
with `jsonschema` exactly: on every credential we issue, on the 1EdTech vectors, on thousands of
mutated documents (both outcomes), and on random small schemas over every supported keyword."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from tessera_credential.documents import build_clr_credential, build_ob3_credential, schemas
from tests.credential.unit.credential_document_testdata import issuance, signed_credential
from tests.credential.unit.proofs_testdata import EDTECH, generate_ob3_credentials, read_json
from tests.credential.unit.test_credential_document_clr import pathway_input

pytestmark = pytest.mark.unit

_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    2.5,
    "",
    "x",
    "en",
    "EN-us",
    "2024-01-01",
    "2024-13-01",
    "2025-06-30T14:30:00Z",
    "2025-06-30 14:30:00",
    "2025-06-30T14:30:00",
    "https://example.org/a",
    "did:web:example.org",
    "Achievement",
    "Alignment",
    "AchievementSubject",
    "Profile",
    "Result",
    "Image",
    "Evidence",
    "IdentityObject",
    "VerifiableCredential",
    "OpenBadgeCredential",
    "Status",
    "Completed",
    [],
    ["x"],
    ["Achievement"],
    [1],
    {},
    {"id": "https://example.org/a"},
    {"en": "text"},
    {"type": "Image"},
]


def _reference_valid(name: str, document: Any) -> bool:
    return next(schemas._validator(name).iter_errors(document), None) is None


def _reference_result(name: str, document: Any) -> schemas.SchemaResult:
    errors = [message for _, message in zip(range(schemas.MAX_ERRORS), schemas._errors(name, document), strict=False)]
    return schemas.SchemaResult(name, schemas._schemas()[name]["$id"], not errors, tuple(errors))


def _containers(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, dict | list):
        out.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, out)
    return out


def mutate(document: Any, rng: random.Random) -> Any:
    """A copy of `document` with 1-3 random structural or value changes anywhere in it."""
    out = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        container = rng.choice(_containers(out, []))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        op = rng.randrange(7)
        if not keys or op == 0:  # add a member
            if isinstance(container, dict):
                container[rng.choice(["extra", "id", "type", "name", "@context", "achievement"])] = rng.choice(_VALUES)
            else:
                container.append(copy.deepcopy(rng.choice(_VALUES + container)) if container else rng.choice(_VALUES))
            continue
        key = rng.choice(keys)
        value = container[key]
        if op == 1:  # remove it
            del container[key]
        elif op == 2:  # another JSON type or a telling string
            container[key] = copy.deepcopy(rng.choice(_VALUES))
        elif op == 3:  # JSON-LD's single value <-> array
            container[key] = value[0] if isinstance(value, list) and len(value) == 1 else [value]
        elif op == 4 and isinstance(value, list):  # empty or duplicate
            container[key] = [] if rng.random() < 0.5 else value + value[:1]
        elif op == 5 and isinstance(value, str):
            container[key] = value + rng.choice(["", " ", "x", "Z", "-", "T"])
        else:  # swap with a value from elsewhere in the document
            other = rng.choice(_containers(out, []))
            picks = list(other.values()) if isinstance(other, dict) else other
            if picks:
                container[key] = copy.deepcopy(rng.choice(picks))
    return out


@pytest.fixture(scope="module")
def ob3_corpus() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        build_ob3_credential(issuance(joint, serial=i)) for i in (1, 2) for joint in (True, False)
    ]
    docs += [signed_credential(True), signed_credential(False)]
    docs.append(read_json(EDTECH / "obv3p0-eddsa-rdfc-2022-vector.json")["unsignedCredential"])
    docs += generate_ob3_credentials(12, seed=7)  # OB3-shaped, not made to pass the schemas
    return docs


@pytest.mark.parametrize("name", ["strict", "lenient", "clr"])
def test_every_vendored_schema_has_a_fast_validator(name: str) -> None:
    assert schemas._fast_validator(name) is not None  # else validate() silently stays on the slow path


@pytest.mark.parametrize("name", ["strict", "lenient"])
def test_fast_path_equals_jsonschema_on_credentials_and_mutations(name: str, ob3_corpus: list[Any]) -> None:
    rng = random.Random(f"ob3-{name}")
    outcomes = {True: 0, False: 0}
    for document in ob3_corpus:
        cases = [document] + [mutate(document, rng) for _ in range(40)]
        for case in cases:
            expected = _reference_valid(name, case)
            assert schemas._passes_fast(name, case) is expected, json.dumps(case)[:2000]
            outcomes[expected] += 1
    assert min(outcomes.values()) >= 40, outcomes  # both answers exercised, not a vacuous agreement


def test_fast_path_equals_jsonschema_on_clr_bundles() -> None:
    clr = build_clr_credential(pathway_input())
    rng = random.Random("clr")
    outcomes = {True: 0, False: 0}
    for case in [clr] + [mutate(clr, rng) for _ in range(60)]:
        expected = _reference_valid("clr", case)
        assert schemas._passes_fast("clr", case) is expected, json.dumps(case)[:2000]
        outcomes[expected] += 1
    assert outcomes[True] >= 5 and outcomes[False] >= 20, outcomes


def test_validate_results_are_identical_to_jsonschema_alone(ob3_corpus: list[Any]) -> None:
    rng = random.Random("results")
    for document in ob3_corpus[:7]:
        for case in [document, mutate(document, rng), mutate(document, rng)]:
            for name in ("strict", "lenient"):
                assert schemas.validate(name, case) == _reference_result(name, case)
