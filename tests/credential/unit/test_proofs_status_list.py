"""W3C Bitstring Status List: bit layout, GZIP/base64url encoding, decoding caps."""

from __future__ import annotations

import base64
import gzip
import random
import time
import zlib

import pytest

from tessera_credential.proofs import (
    BitstringStatusList,
    InputTooLargeError,
    MalformedInputError,
    StatusListError,
    StatusListLimits,
)
from tessera_credential.proofs.status_list import MIN_BITS

pytestmark = pytest.mark.unit


def encode_raw(payload: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def test_new_list_has_the_minimum_size_and_is_all_zero() -> None:
    status_list = BitstringStatusList()
    assert len(status_list) == MIN_BITS == 131_072
    assert status_list.to_bytes() == bytes(16_384)
    assert all(status_list.get(i) == 0 for i in (0, 1, 65_535, MIN_BITS - 1))
    with pytest.raises(StatusListError):
        BitstringStatusList(MIN_BITS - 1)


def test_bit_zero_is_the_left_most_bit() -> None:
    status_list = BitstringStatusList()
    status_list.set(0, True)
    status_list.set(15, 1)
    status_list.set(MIN_BITS - 1, 1)
    raw = status_list.to_bytes()
    assert raw[0] == 0x80 and raw[1] == 0x01 and raw[-1] == 0x01
    assert sum(bin(b).count("1") for b in raw) == 3


def test_set_and_clear_bits_round_trip_through_the_encoding() -> None:
    rng = random.Random(7)
    status_list = BitstringStatusList(200_000)
    revoked = set(rng.sample(range(200_000), 2_000))
    for index in revoked:
        status_list.set(index, 1)
    cleared = set(rng.sample(sorted(revoked), 500))
    for index in cleared:
        status_list.set(index, 0)
    encoded = status_list.encode()
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert encoded == status_list.encode()  # deterministic (no GZIP timestamp)
    decoded = BitstringStatusList.decode(encoded)
    assert len(decoded) == 200_000
    assert {i for i in range(200_000) if decoded.get(i)} == revoked - cleared
    assert gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "==")) == status_list.to_bytes()


def test_multi_bit_entries() -> None:
    status_list = BitstringStatusList(MIN_BITS, status_size=2)
    status_list.set(0, 3)
    status_list.set(1, 2)
    status_list.set(2, 1)
    assert [status_list.get(i) for i in range(4)] == [3, 2, 1, 0]
    assert status_list.to_bytes()[0] == 0b11100100
    decoded = BitstringStatusList.decode(status_list.encode(), status_size=2)
    assert [decoded.get(i) for i in range(4)] == [3, 2, 1, 0]
    with pytest.raises(StatusListError):
        status_list.set(3, 4)


@pytest.mark.parametrize("index", [-1, MIN_BITS, True])
def test_out_of_range_indices_are_refused(index: int) -> None:
    with pytest.raises(StatusListError):
        BitstringStatusList().get(index)


def test_lists_from_other_issuers_decode() -> None:
    raw = bytearray(16_384)
    raw[2] = 0x20  # index 18
    other = encode_raw(gzip.compress(bytes(raw), mtime=1_700_000_000))
    decoded = BitstringStatusList.decode(other)
    assert decoded.get(18) == 1 and decoded.get(17) == 0


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    payload = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()  # 64 MiB
    assert len(payload) < 100_000
    started = time.perf_counter()
    with pytest.raises(InputTooLargeError):
        BitstringStatusList.decode(encode_raw(payload))
    with pytest.raises(InputTooLargeError):
        BitstringStatusList.decode(encode_raw(payload), limits=StatusListLimits(max_decompressed_bytes=100_000))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("encoded", [
    "H4sIAAAAAAAAA",  # no multibase prefix
    "uH4sIAAAAAAAAA==",  # padding
    "u" + "!" * 10,  # not base64url
    encode_raw(zlib.compress(bytes(16_384))),  # zlib, not GZIP
    encode_raw(gzip.compress(bytes(16_384))[:-10]),  # truncated
    encode_raw(gzip.compress(bytes(16_384)) + b"junk"),  # trailing data
])
def test_malformed_encodings_are_refused(encoded: str) -> None:
    with pytest.raises(MalformedInputError):
        BitstringStatusList.decode(encoded)


def test_short_lists_and_huge_encodings_are_refused() -> None:
    with pytest.raises(StatusListError):
        BitstringStatusList.decode(encode_raw(gzip.compress(bytes(1000))))
    with pytest.raises(InputTooLargeError):
        BitstringStatusList.decode("u" + "A" * 100, limits=StatusListLimits(max_encoded_chars=50))
