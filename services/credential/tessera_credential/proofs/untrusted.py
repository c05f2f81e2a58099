"""Parse JSON from untrusted sources with size and nesting caps enforced before full parsing.

Why: pyld and pyoxigraph have no input limits, Python's json module recurses per nesting level,
and a 1 MB document of `[[[[...` must cost microseconds to refuse, not a RecursionError deep in a
library. The depth scan works on a bracket "skeleton" of the raw bytes (strings removed by a
linear regex), so it never builds the object tree it is protecting.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import InputTooDeepError, InputTooLargeError, MalformedInputError


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """Caps for one untrusted JSON document. Defaults fit OB 3.0 / CLR 2.0 credentials with images."""

    max_bytes: int = 1_048_576
    max_depth: int = 32


DEFAULT_LIMITS = JsonLimits()

# A JSON string literal (unrolled-loop form: linear time, no catastrophic backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING = frozenset(b"[{")
_NON_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(data: bytes, limit: int) -> int:
    """Nesting depth of JSON `data` from its raw bytes, scanning only until it exceeds `limit`.

    Returns a value > `limit` as soon as the document is known to be deeper than `limit`.
    Unbalanced brackets stop the scan early; the JSON parser then reports the syntax error.
    """
    # Strings removed (C-speed regex), only brackets kept: a credential's skeleton is a few
    # hundred bytes; a hostile one costs one loop step per bracket and stops at `limit`.
    skeleton = _STRING.sub(b"", data).translate(None, _NON_BRACKETS)
    depth = deepest = 0
    for byte in skeleton:
        if byte in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
            if depth < 0:
                break
    return deepest


def parse_untrusted_json(data: bytes | str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """Parse untrusted JSON after checking size and depth; refuse ambiguous JSON.

    Refused (typed `UntrustedInputError` subclasses): more than `max_bytes` bytes, deeper than
    `max_depth`, invalid UTF-8, duplicate object keys (parsers disagree on which one wins, a known
    signature-confusion vector), NaN/Infinity or overflowing numbers, and lone UTF-16 surrogates.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > limits.max_bytes:
        raise InputTooLargeError(f"JSON input of {len(raw)} bytes exceeds the {limits.max_bytes}-byte cap")
    depth = nesting_depth(raw, limits.max_depth)
    if depth > limits.max_depth:
        raise InputTooDeepError(f"JSON nesting deeper than the cap of {limits.max_depth} levels")
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
        if "\\u" in text:  # escapes may encode lone surrogates, which cannot be hashed as UTF-8
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except MalformedInputError:
        raise
    except (UnicodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedInputError(f"malformed JSON: {exc}") from exc
    return value


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        dupes = sorted({k for k, _ in pairs if k in seen or seen.add(k)})  # type: ignore[func-returns-value]
        raise MalformedInputError(f"duplicate JSON object keys: {dupes}")
    return result


def _reject_constant(name: str) -> Any:
    raise MalformedInputError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedInputError(f"number {text[:40]} overflows a double")
    return value
