"""Where events travel: one JetStream stream per producing context, subjects named after types.

A subject is the CloudEvents ``type`` (``tessera.catalogue.offering.opened.v1``), optionally under a
namespace (``<ns>.tessera...``) so that test runs or several consortia can share one NATS server.
Stream names are the upper-cased context (``CATALOGUE``), prefixed ``<NS>_`` under a namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTEXTS: tuple[str, ...] = ("catalogue", "enrolment", "assessment", "credential")


def _ns(namespace: str) -> str:
    return f"{namespace}." if namespace else ""


def stream_name(context: str, namespace: str = "") -> str:
    base = context.upper()
    return f"{namespace.upper().replace('.', '_')}_{base}" if namespace else base


def stream_subjects(context: str, namespace: str = "") -> str:
    return f"{_ns(namespace)}tessera.{context}.>"


def subject_for(event_type: str, namespace: str = "") -> str:
    return f"{_ns(namespace)}{event_type}"


def type_from_subject(subject: str, namespace: str = "") -> str:
    prefix = _ns(namespace)
    return subject[len(prefix) :] if prefix and subject.startswith(prefix) else subject


def context_of(event_type: str) -> str:
    return event_type.split(".")[1]


@dataclass(frozen=True)
class Subscription:
    """A durable pull consumer that ``consumer`` (a service) keeps on ``source``'s stream."""

    consumer: str
    source: str

    def durable(self, namespace: str = "") -> str:
        name = f"{self.consumer}--{self.source}"
        return f"{namespace.replace('.', '_')}_{name}" if namespace else name


# Who listens to whom. Each pair is one durable consumer with filter ``tessera.<source>.>``
# (single-filter consumers work on every nats-server from 2.9 on).
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("enrolment", "catalogue"),
    Subscription("enrolment", "credential"),
    Subscription("assessment", "catalogue"),
    Subscription("assessment", "enrolment"),
    Subscription("credential", "catalogue"),
    Subscription("credential", "enrolment"),
    Subscription("credential", "assessment"),
)


def subscriptions_of(service: str) -> tuple[Subscription, ...]:
    return tuple(s for s in SUBSCRIPTIONS if s.consumer == service)
