"""NATS users and subject permissions, derived from the topology (``tessera nats-permissions``).

Each service may publish only its own context's subjects and use only the JetStream API calls its
relay and its own durable consumers need; it subscribes only to inboxes (request replies and pull
deliveries arrive there). The ``operator`` user (provisioning job, CLI) has full rights.
Passwords are NATS config variables (``$CATALOGUE_NATS_PASSWORD`` …) resolved from the environment.
"""

from __future__ import annotations

from tessera_shared.contract.topology import CONTEXTS, stream_name, stream_subjects, subscriptions_of


def service_permissions(service: str, namespace: str = "") -> dict[str, list[str]]:
    own = stream_name(service, namespace)
    publish = [
        stream_subjects(service, namespace),
        "$JS.API.INFO",
        f"$JS.API.STREAM.CREATE.{own}",
        f"$JS.API.STREAM.UPDATE.{own}",
        "$JS.API.STREAM.INFO.*",
    ]
    for sub in subscriptions_of(service):
        src, durable = stream_name(sub.source, namespace), sub.durable(namespace)
        publish += [
            f"$JS.API.CONSUMER.CREATE.{src}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{src}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{src}.{durable}",
            f"$JS.API.CONSUMER.INFO.{src}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{src}.{durable}",
            f"$JS.ACK.{src}.{durable}.>",
        ]
    return {"publish": publish, "subscribe": ["_INBOX.>"]}


def _quote(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def permissions_conf(namespace: str = "") -> str:
    lines = [
        "# Generated from shared/tessera_shared/contract/topology.py by `tessera nats-permissions`.",
        "authorization {",
        "  users = [",
        '    { user: operator, password: $OPERATOR_NATS_PASSWORD, permissions: { publish: ">", subscribe: ">" } }',
    ]
    for service in CONTEXTS:
        perms = service_permissions(service, namespace)
        lines.append(
            f"    {{ user: {service}, password: ${service.upper()}_NATS_PASSWORD, permissions: {{"
            f" publish: {{ allow: {_quote(perms['publish'])} }},"
            f" subscribe: {{ allow: {_quote(perms['subscribe'])} }} }} }}"
        )
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
