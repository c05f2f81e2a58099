"""Event types used only by the kernel's own tests (context ``kerneltest``)."""

from tessera_shared.contract import Event


class ThingHappened(Event, type="tessera.kerneltest.thing.happened", version=1):
    thing_id: str
    n: int


class ThingNoted(Event, type="tessera.kerneltest.thing.noted", version=1, internal=True):
    thing_id: str


class ThingSeen(Event, type="tessera.kerneltest.thing.seen", version=1):
    """Published on the kerneltest stream, handled by no test consumer: one it only acknowledges."""

    thing_id: str
