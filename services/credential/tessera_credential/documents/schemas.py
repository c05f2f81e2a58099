"""JSON Schema validation of credentials against the vendored 1EdTech schemas (draft 2019-09), offline.

The two published OB 3.0 AchievementCredential schemas have swapped-looking `$id`s, so they are told
apart by `title`: "JSON Schema for the AchievementCredential class." is the *strict* one (arrays
only, string-typed `IdentityObject`...), "JSON-LD Schema adaptation ..." the *lenient* one (also
accepts JSON-LD's single values). A credential we issue must pass both.

Every `$ref` resolves in a local `referencing.Registry` holding the vendored schemas (the W3C VC 2.0
schema included); any other reference raises instead of being fetched. `date-time` / `date` formats
are asserted (RFC 3339), which `jsonschema` only does when asked.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT201909, DRAFT202012

STRICT_TITLE = "JSON Schema for the AchievementCredential class."
LENIENT_TITLE_PREFIX = "JSON-LD Schema adaptation for the AchievementCredential class"
CLR_TITLE_PREFIX = "JSON-LD Schema adaptation for the ClrCredential class"

# file -> pinned SHA-256 (byte-for-byte copies of shared/standards/schemas; see schemas/NOTICE.md)
_STRICT = "ob_v3p0_achievementcredential_schema.strict.json"
_LENIENT = "ob_v3p0_achievementcredential_schema.lenient.json"
_FILES = {
    _STRICT: "859e405b592d93c3261fe899362f4128801140d4d20c01502a066b3540483d95",
    _LENIENT: "b7358e895f492e74055dc6bfc7ffc420d0e497f90c4579fb83d9519b86d393ea",
    "clr_v2p0_clrcredential_schema.json": "59d778659204b0bd593e9e2ab1683fb6f688e339885c44019f606ed6feb4caee",
    "vc-2.0-verifiable-credential-schema.json": "8a3fa1948fb37d9ca7fd30d602549c9e8d59feb361beed6edb05e9711d10e83a",
}
MAX_ERRORS = 20
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class SchemaResult:
    """Outcome of one schema: `errors` as "<JSON path>: <message>" (at most `MAX_ERRORS`)."""

    schema: str
    schema_id: str
    valid: bool
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "schema_id": self.schema_id, "valid": self.valid, "errors": list(self.errors)}


def _read(filename: str) -> dict[str, Any]:
    data = resources.files("tessera_credential.documents").joinpath("schemas").joinpath(filename).read_bytes()
    if hashlib.sha256(data).hexdigest() != _FILES[filename]:
        raise RuntimeError(f"vendored schema {filename} does not match its pinned SHA-256")
    schema: dict[str, Any] = json.loads(data)
    return schema


def _no_retrieval(uri: str) -> Resource[Any]:
    raise NoSuchResource(uri)  # never fetch a schema over the network


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and date.fromisoformat(value) is not None
    except ValueError:
        return False


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date-time")(_date_time)
FORMAT_CHECKER.checks("date")(_date)


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """name ("strict", "lenient", "clr", "vc") -> schema, identified by title, not file name."""
    out: dict[str, dict[str, Any]] = {}
    for filename in _FILES:
        schema = _read(filename)
        title = str(schema.get("title", ""))
        if title == STRICT_TITLE:
            out["strict"] = schema
        elif title.startswith(LENIENT_TITLE_PREFIX):
            out["lenient"] = schema
        elif title.startswith(CLR_TITLE_PREFIX):
            out["clr"] = schema
        elif "verifiable-credential-schema" in str(schema.get("$id", "")):
            out["vc"] = schema
    if set(out) != {"strict", "lenient", "clr", "vc"}:
        raise RuntimeError(f"vendored schemas not recognised by title: found {sorted(out)}")
    return out


@cache
def _registry() -> Registry[Any]:
    resources_ = []
    for name, schema in _schemas().items():
        spec = DRAFT202012 if name == "vc" else DRAFT201909
        resources_.append((schema["$id"], Resource.from_contents(schema, default_specification=spec)))
    return Registry(retrieve=_no_retrieval).with_resources(resources_)  # type: ignore[call-arg]  # attrs init


@cache
def _validator(name: str) -> Draft201909Validator:
    schema = _schemas()[name]
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, registry=_registry(), format_checker=FORMAT_CHECKER)


@cache
def _fast_validator(name: str) -> jsonschema_rs.Draft201909Validator:
    """The same schema in jsonschema-rs (compiled Rust), with the same registry and format checks."""
    registry = jsonschema_rs.Registry([(schema["$id"], schema) for schema in _schemas().values()])
    return jsonschema_rs.Draft201909Validator(
        _schemas()[name],
        registry=registry,
        validate_formats=True,
        formats={"date-time": _date_time, "date": _date},
    )


def _passes_fast(name: str, document: Any) -> bool:
    """True only when jsonschema-rs says valid; anything else goes through `jsonschema`.

    Why: a valid credential (every issued one, most verified ones) then costs well under a
    millisecond instead of ~15 ms per schema; an invalid one still gets `jsonschema`'s exact error
    messages, in the same order, from the reference implementation.
    """
    try:
        return bool(_fast_validator(name).is_valid(document))
    except Exception:  # e.g. a value it cannot take: let jsonschema decide (and report) as before
        return False


def _errors(name: str, document: Any) -> Iterator[str]:
    for error in _validator(name).iter_errors(document):
        yield f"{_path(error)}: {_short(error.message)}"


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def validate(name: str, document: Any) -> SchemaResult:
    """Validate against one vendored schema: "strict", "lenient" (OB 3.0) or "clr" (CLR 2.0)."""
    if _passes_fast(name, document):
        return SchemaResult(name, _schemas()[name]["$id"], True, ())
    errors: list[str] = []
    for message in _errors(name, document):
        errors.append(message)
        if len(errors) >= MAX_ERRORS:
            break
    return SchemaResult(name, _schemas()[name]["$id"], not errors, tuple(errors))


def validate_ob3(document: Any) -> tuple[SchemaResult, SchemaResult]:
    """Both OB 3.0 AchievementCredential schemas: (strict, lenient)."""
    return validate("strict", document), validate("lenient", document)


def validate_clr(document: Any) -> SchemaResult:
    return validate("clr", document)


def ensure_valid_ob3(document: Any) -> None:
    """Issuance self-check: raise `SchemaValidationError` unless both OB 3.0 schemas pass."""
    from tessera_credential.documents.errors import SchemaValidationError

    for result in validate_ob3(document):
        if not result.valid:
            raise SchemaValidationError(f"OB 3.0 {result.schema} schema", result.errors)
