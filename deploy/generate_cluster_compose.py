"""Derive compose.cluster.yml from compose.yml: 3 NATS nodes, R3 streams, 2 replicas per service.

uv run python deploy/generate_cluster_compose.py
"""

import copy
from pathlib import Path

import yaml

HERE = Path(__file__).parent
HEADER = """# Scale-out: a three-node NATS cluster with replicated (R3) streams, and two replicas of every
# service sharing their durable consumers (JetStream spreads batches across the replicas' pulls;
# inboxes and the databases' unique constraints keep effects exactly-once; one outbox relay per
# service is active at a time through the advisory lock).
#   docker compose -f deploy/compose.cluster.yml up --build
# Generated from compose.yml by deploy/generate_cluster_compose.py; do not edit by hand.
"""


def cluster(base: dict) -> dict:
    out: dict = {"name": "tessera-cluster", "services": {}, "volumes": {}, "secrets": base["secrets"]}
    routes = ",".join(f"nats://nats-{i}:6222" for i in range(3))
    for i in range(3):
        node = copy.deepcopy(base["services"]["nats"])
        node["command"] = [
            "-c",
            "/etc/nats/nats.conf",
            "--name",
            f"nats-{i}",
            "--cluster_name",
            "tessera",
            "--cluster",
            "nats://0.0.0.0:6222",
            "--routes",
            routes,
        ]
        node["volumes"] = [v.replace("nats-data", f"nats-data-{i}") for v in node["volumes"]]
        node["ports"] = [f"{4222 + i * 10}:4222", f"{8222 + i * 10}:8222"]
        out["services"][f"nats-{i}"] = node
        out["volumes"][f"nats-data-{i}"] = None
    out["services"]["postgres"] = base["services"]["postgres"]
    out["volumes"]["postgres-data"] = None
    provision = copy.deepcopy(base["services"]["provision"])
    provision["environment"]["NATS_URL"] = ",".join(
        f"nats://operator:${{OPERATOR_NATS_PASSWORD}}@nats-{i}:4222" for i in range(3)
    )
    provision["environment"]["STREAM_REPLICAS"] = "3"
    provision["depends_on"] = {f"nats-{i}": {"condition": "service_healthy"} for i in range(3)}
    provision["depends_on"]["postgres"] = {"condition": "service_healthy"}
    out["services"]["provision"] = provision
    for name in ("catalogue", "enrolment", "assessment", "credential"):
        for replica in (1, 2):
            service = copy.deepcopy(base["services"][name])
            service["environment"]["NATS_URL"] = ",".join(f"nats://nats-{i}:4222" for i in range(3))
            service["environment"]["STREAM_REPLICAS"] = "3"
            port = int(service["environment"]["HTTP_PORT"])
            service["ports"] = [f"{port + (replica - 1) * 100}:{port}"]
            out["services"][f"{name}-{replica}"] = service
    return out


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(type(None), lambda d, _: d.represent_scalar("tag:yaml.org,2002:null", ""))

if __name__ == "__main__":
    base = yaml.safe_load((HERE / "compose.yml").read_text())
    text = yaml.dump(cluster(base), Dumper=_Dumper, sort_keys=False, width=200)
    (HERE / "compose.cluster.yml").write_text(HEADER + text)
