"""Untrusted JSON is capped (size, depth) before parsing and ambiguous JSON is refused."""

from __future__ import annotations

import json
import time

import pytest

from tessera_credential.proofs import (
    InputTooDeepError,
    InputTooLargeError,
    JsonLimits,
    MalformedInputError,
    UntrustedInputError,
    parse_untrusted_json,
)
from tessera_credential.proofs.untrusted import nesting_depth
from tests.credential.unit.proofs_testdata import EDTECH

pytestmark = pytest.mark.unit


def test_a_real_credential_parses_like_json_loads() -> None:
    raw = (EDTECH / "clrv2p0-eddsa-rdfc-2022-vector.json").read_bytes()
    assert parse_untrusted_json(raw) == json.loads(raw)
    assert parse_untrusted_json(raw.decode()) == json.loads(raw)


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ('"[[["', 0), ("[]", 1), ("{}", 1), ("[[]]", 2), ('{"a":[1,{"b":2}]}', 3),
    ("{[{[]}]}", 4), ('["]]]\\"[[[", [["x"]]]', 3), ('{"a\\\\":["\\\\"]}', 2), ("[[],[],[[]]]", 3),
])
def test_depth_scan_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text.encode(), 64) == depth


def test_size_cap_is_checked_first() -> None:
    limits = JsonLimits(max_bytes=1000)
    parse_untrusted_json(b'{"a":"' + b"x" * 990 + b'"}', limits)
    with pytest.raises(InputTooLargeError) as info:
        parse_untrusted_json(b'{"a":"' + b"x" * 995 + b'"}', limits)
    assert info.value.http_status == 413
    started = time.perf_counter()
    with pytest.raises(InputTooLargeError):
        parse_untrusted_json(b"[" * 50_000_000)  # 50 MB: refused without scanning
    assert time.perf_counter() - started < 0.5


def test_depth_cap_is_exact_and_fast() -> None:
    limits = JsonLimits(max_depth=32)
    assert parse_untrusted_json("[" * 32 + "]" * 32, limits) is not None
    with pytest.raises(InputTooDeepError) as info:
        parse_untrusted_json("[" * 33 + "]" * 33, limits)
    assert info.value.http_status == 422
    with pytest.raises(InputTooDeepError):
        parse_untrusted_json('{"a":' * 40 + "1" + "}" * 40, limits)
    started = time.perf_counter()
    with pytest.raises(InputTooDeepError):  # would be a RecursionError in json.loads
        parse_untrusted_json(b"[" * 1_000_000 + b"]" * 1_000_000, JsonLimits(max_bytes=4_000_000))
    assert time.perf_counter() - started < 1.0


def test_brackets_inside_strings_do_not_count() -> None:
    value = parse_untrusted_json('{"note": "' + "[" * 100 + '"}', JsonLimits(max_depth=2))
    assert value == {"note": "[" * 100}


@pytest.mark.parametrize("raw", [
    b'{"id": "a", "id": "b"}',  # duplicate keys: parsers disagree on which one wins
    b'{"n": NaN}', b'{"n": Infinity}', b'{"n": -Infinity}',
    b'{"n": 1e400}',  # overflows to inf
    b'{"n": ' + b"9" * 5000 + b"}",  # beyond Python's int-parsing limit
    b'{"s": "\xff\xfe"}',  # not UTF-8
    b'{"s": "\\ud800"}',  # lone surrogate cannot be hashed as UTF-8
    b"[[", b'{"a": 1', b"", b"\xef\xbb\xbf{}",  # unbalanced, empty, BOM
])
def test_malformed_or_ambiguous_json_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedInputError) as info:
        parse_untrusted_json(raw)
    assert isinstance(info.value, UntrustedInputError)
    assert info.value.http_status == 400


def test_valid_surrogate_pairs_and_escapes_are_accepted() -> None:
    assert parse_untrusted_json(b'{"s": "\\ud83c\\udf93 \\"q\\" \\\\"}') == {"s": '🎓 "q" \\'}
