"""Fixtures for the catalogue's domain tests (builders live in catalogue_builders.py)."""

from __future__ import annotations

import pytest

from tessera_shared.contract.catalogue import InstitutionProfile
from tests.catalogue.unit.catalogue_builders import make_directory


@pytest.fixture
def directory() -> dict[str, InstitutionProfile]:
    return make_directory()
