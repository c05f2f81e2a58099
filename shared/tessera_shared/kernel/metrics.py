"""Prometheus metrics of the kernel (documented in docs/operations.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_APPENDED = Counter("tessera_events_appended_total", "Events appended to the event store", ["service"])
EVENTS_PUBLISHED = Counter("tessera_events_published_total", "Outbox events acknowledged by JetStream", ["service"])
EVENTS_CONSUMED = Counter("tessera_events_consumed_total", "Messages handled by a consumer", ["consumer", "outcome"])
DEAD_LETTERS = Counter("tessera_dead_letters_total", "Messages dead-lettered", ["consumer"])
RELAY_LAG = Gauge("tessera_relay_lag_events", "Outbox rows not yet published", ["service"])
RELAY_LAG_SECONDS = Gauge("tessera_relay_lag_seconds", "Age of the oldest unpublished outbox row", ["service"])
CONSUMER_LAG = Gauge("tessera_consumer_lag_messages", "Messages pending for a durable consumer", ["consumer"])
PROJECTION_POSITION = Gauge("tessera_projection_position", "Last global position applied", ["projection"])
PROJECTION_GAP_WAIT = Gauge(
    "tessera_projection_gap_wait_seconds",
    "How long the projection has waited at a position a transaction in flight may still fill (0: not waiting)",
    ["projection"],
)
