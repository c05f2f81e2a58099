"""did:web identifiers of the consortium's institutions, and their DID documents.

The mapping (did:web v1, https://w3c-ccg.github.io/did-method-web/):

    PUBLIC_BASE_URL = https://creds.example.eu[:port][/prefix]
    DID             = did:web:creds.example.eu[%3Aport][:prefix]:institutions:<schac-id>
    DID document    = <PUBLIC_BASE_URL>/institutions/<schac-id>/did.json
    key             = <DID>#key-<n>            (n = 1, 2, ... per institution, never reused)

The host is lower-cased and a port is percent-encoded (``%3A``) as did:web requires; every path
segment of the base URL becomes one colon-separated DID segment (percent-encoded). SCHAC ids
(``ugent.be``) only hold characters did:web allows, so they are used as they are. Every identifier
this service mints (DIDs, credential ids, status-list URLs) contains ``PUBLIC_BASE_URL``: it must
never change for a running consortium (old credentials name the old identifiers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from tessera_credential.proofs.contexts import MULTIKEY_V1
from tessera_credential.proofs.multikey import encode_public_multibase

DID_V1 = "https://www.w3.org/ns/did/v1"
_SCHAC = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_KEY_FRAGMENT = re.compile(r"key-([1-9][0-9]{0,8})")


def is_institution_id(value: str) -> bool:
    return len(value) <= 253 and _SCHAC.fullmatch(value) is not None


@dataclass(frozen=True)
class PublicKeyRecord:
    """One key of an institution as the DID document lists it (never the secret)."""

    institution_id: str
    key_number: int
    public_key: bytes
    active: bool

    @property
    def public_multibase(self) -> str:
        return encode_public_multibase(self.public_key)


@dataclass(frozen=True)
class DidWeb:
    """The did:web namespace of this deployment, derived from ``PUBLIC_BASE_URL``."""

    base_url: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if not parts.hostname:
            raise ValueError(f"PUBLIC_BASE_URL {self.base_url!r} has no host; did:web needs one")

    @property
    def public_base(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def prefix(self) -> str:
        """``did:web:<host>[%3A<port>][:<path>]:institutions:`` — every institution DID starts with it."""
        parts = urlsplit(self.base_url)
        host = (parts.hostname or "").lower()
        if ":" in host:  # an IPv6 literal: did:web percent-encodes its colons too
            host = quote(f"[{host}]", safe="")
        if parts.port is not None:
            host += f"%3A{parts.port}"
        segments = [quote(s, safe="") for s in parts.path.split("/") if s]
        return ":".join(["did:web", host, *segments, "institutions"]) + ":"

    def did(self, institution_id: str) -> str:
        if not is_institution_id(institution_id):
            raise ValueError(f"{institution_id!r} is not a SCHAC institution id")
        return self.prefix + institution_id

    def document_url(self, institution_id: str) -> str:
        return f"{self.public_base}/institutions/{institution_id}/did.json"

    def verification_method(self, institution_id: str, key_number: int) -> str:
        return f"{self.did(institution_id)}#key-{key_number}"

    def parse_verification_method(self, method: str) -> tuple[str, int] | None:
        """``(institution_id, key_number)`` of a key of this consortium, or None for anything else."""
        did, sep, fragment = method.partition("#")
        if not sep or not did.startswith(self.prefix):
            return None
        institution_id = unquote(did[len(self.prefix) :])
        match = _KEY_FRAGMENT.fullmatch(fragment)
        if match is None or not is_institution_id(institution_id):
            return None
        return institution_id, int(match.group(1))

    def institution_of(self, did: str) -> str | None:
        if not did.startswith(self.prefix):
            return None
        institution_id = did[len(self.prefix) :]
        return institution_id if is_institution_id(institution_id) else None

    def did_document(self, institution_id: str, keys: Iterable[PublicKeyRecord]) -> dict[str, Any]:
        """Every key, active and retired, as a Multikey verification method usable for assertions.

        Retired keys stay listed so credentials signed before a rotation still verify; the active
        key is the one with the highest number (listed first).
        """
        did = self.did(institution_id)
        ordered = sorted(keys, key=lambda k: k.key_number, reverse=True)
        methods = [
            {
                "id": f"{did}#key-{k.key_number}",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": k.public_multibase,
            }
            for k in ordered
        ]
        return {
            "@context": [DID_V1, MULTIKEY_V1],
            "id": did,
            "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods],
        }
