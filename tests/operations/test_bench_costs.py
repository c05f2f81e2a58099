"""The benchmark's CPU cost per unit of work (bench/run.py ``cpu_costs``): the figures that compare
across runs on moments of a shared machine of different speed."""

from __future__ import annotations

import pytest

from bench.run import cpu_costs

pytestmark = pytest.mark.unit


def test_costs_are_cpu_milliseconds_per_credential_and_per_cold_verification() -> None:
    result = {
        "end_to_end": {"credentials": 9000, "cpu_seconds": {"credential": 117.0, "postgres": 45.0, "nats": 18.0}},
        "verify": {"ok": 2000, "credential_service_cpu_s": 26.0},
    }
    assert cpu_costs(result) == {
        "credential_service_cpu_ms_per_credential": 13.0,
        "postgres_cpu_ms_per_credential": 5.0,
        "all_processes_cpu_ms_per_credential": 20.0,
        "credential_service_cpu_ms_per_cold_verification": 13.0,
    }


def test_nothing_measured_gives_no_cost_rather_than_a_division_by_zero() -> None:
    costs = cpu_costs({"end_to_end": {"credentials": 0, "cpu_seconds": {}}, "verify": {"available": False}})
    assert set(costs.values()) == {None}
