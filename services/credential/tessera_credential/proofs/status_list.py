"""W3C Bitstring Status List v1.0: the bitstring behind revocation/suspension of credentials.

Entry `i` occupies bits [i*statusSize, (i+1)*statusSize); bit 0 is the left-most (most
significant) bit of the first byte. `encodedList` = "u" + base64url-no-padding(GZIP(bitstring)).
The list is at least 131,072 bits (16 KB) so that one index does not identify a holder.
Decoding caps both the encoded size and the *decompressed* size (a few KB of GZIP can expand to
gigabytes), so it is safe on lists fetched from third parties.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from dataclasses import dataclass

from .errors import InputTooLargeError, MalformedInputError, StatusListError

MIN_BITS = 131_072
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class StatusListLimits:
    max_encoded_chars: int = 4 * 1024 * 1024
    max_decompressed_bytes: int = 16 * 1024 * 1024  # 134 million one-bit entries


class BitstringStatusList:
    """A mutable status list of `length` entries of `status_size` bits each (all zero at first)."""

    def __init__(self, length: int = MIN_BITS, *, status_size: int = 1) -> None:
        if status_size < 1:
            raise StatusListError("statusSize must be >= 1")
        if length * status_size < MIN_BITS:
            raise StatusListError(f"a status list needs at least {MIN_BITS} bits")
        self.status_size = status_size
        self.length = length
        self._bits = bytearray((length * status_size + 7) // 8)

    @classmethod
    def from_bytes(cls, data: bytes, *, status_size: int = 1) -> BitstringStatusList:
        if len(data) * 8 < MIN_BITS:
            raise StatusListError(f"status list has {len(data) * 8} bits; the minimum is {MIN_BITS}")
        status_list = cls(len(data) * 8 // status_size, status_size=status_size)
        status_list._bits[:] = data
        return status_list

    @classmethod
    def decode(
        cls, encoded: str, *, status_size: int = 1, limits: StatusListLimits = StatusListLimits()
    ) -> BitstringStatusList:
        """Parse an `encodedList` value, refusing oversized input and GZIP bombs."""
        if len(encoded) > limits.max_encoded_chars:
            raise InputTooLargeError(f"encodedList longer than {limits.max_encoded_chars} characters")
        if not encoded.startswith("u") or not _BASE64URL.fullmatch(encoded, 1):
            raise MalformedInputError("encodedList must be multibase base64url without padding ('u' prefix)")
        body = encoded[1:]
        try:
            compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP container only
            data = inflater.decompress(compressed, limits.max_decompressed_bytes + 1)
        except (binascii.Error, zlib.error) as exc:
            raise MalformedInputError(f"encodedList is not base64url GZIP data: {exc}") from exc
        if len(data) > limits.max_decompressed_bytes:
            raise InputTooLargeError(f"status list expands beyond {limits.max_decompressed_bytes} bytes")
        if not inflater.eof or inflater.unused_data:
            raise MalformedInputError("encodedList is truncated or has data after the GZIP stream")
        return cls.from_bytes(data, status_size=status_size)

    def encode(self) -> str:
        """The `encodedList` value (deterministic: GZIP mtime fixed to 0)."""
        compressed = gzip.compress(bytes(self._bits), compresslevel=9, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def __len__(self) -> int:
        return self.length

    def get(self, index: int) -> int:
        """Status value of entry `index` (0 or 1 for the usual one-bit lists)."""
        value = 0
        for bit in self._bit_range(index):
            value = (value << 1) | ((self._bits[bit >> 3] >> (7 - (bit & 7))) & 1)
        return value

    def set(self, index: int, value: int | bool) -> None:
        value = int(value)
        if not 0 <= value < (1 << self.status_size):
            raise StatusListError(f"status value {value} does not fit in {self.status_size} bit(s)")
        for shift, bit in enumerate(reversed(self._bit_range(index))):
            mask = 0x80 >> (bit & 7)
            if (value >> shift) & 1:
                self._bits[bit >> 3] |= mask
            else:
                self._bits[bit >> 3] &= ~mask & 0xFF

    def _bit_range(self, index: int) -> range:
        if isinstance(index, bool) or not 0 <= index < self.length:
            raise StatusListError(f"status list index {index} out of range 0..{self.length - 1}")
        start = index * self.status_size
        return range(start, start + self.status_size)
