"""Event types used only by the kernel's own tests (context ``kerneltest``)."""

from tessera_shared.contract import Event


class ThingHappened(Event, type="tessera.kerneltest.thing.happened", version=1):
    thing_id: str
    n: int


class ThingNoted(Event, type="tessera.kerneltest.thing.noted", version=1, internal=True):
    thing_id: str
