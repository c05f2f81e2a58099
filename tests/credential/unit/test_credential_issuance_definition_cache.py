"""The issuance pipeline's cache of published definitions: bounded, least recently used out."""

import pytest

from tessera_credential.issuance.inputs import DefinitionCache
from tests.credential.integration.test_credential_issuance_world import definition

pytestmark = pytest.mark.unit


def test_the_least_recently_used_definition_leaves_first_and_the_cache_stays_bounded():
    cache = DefinitionCache(size=2)
    a, b, c = definition("mc-a"), definition("mc-b"), definition("mc-c")
    cache.put(("mc-a", 1), a)
    cache.put(("mc-b", 1), b)
    assert cache.get(("mc-a", 1)) is a  # now the most recent
    cache.put(("mc-c", 1), c)
    assert cache.get(("mc-b", 1)) is None
    assert cache.get(("mc-a", 1)) is a and cache.get(("mc-c", 1)) is c
    assert cache.get(("mc-a", 2)) is None  # another version is another definition
