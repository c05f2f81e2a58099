"""A phase of a benchmark run profiled on its own: two marks of the sampler (bench/sampler.py
``Sampler.mark`` / ``phase``) and of the SQL counts (bench/sqlstats.py ``difference``) give only
what happened between them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench import sqlstats
from bench.sampler import Sampler, phase

pytestmark = pytest.mark.unit


def before_the_phase(seconds: float) -> int:
    return _spin(seconds)


def during_the_phase(seconds: float) -> int:
    return _spin(seconds)


def _spin(seconds: float) -> int:
    n, end = 0, time.process_time() + seconds
    while time.process_time() < end:
        n += 1
    return n


def test_a_phase_profile_holds_the_work_between_its_marks_only(tmp_path: Path) -> None:
    sampler = Sampler()
    sampler.start()
    try:
        before_the_phase(0.3)
        sampler.mark(tmp_path / "a.json")
        during_the_phase(0.3)
        sampler.mark(tmp_path / "b.json")
        before_the_phase(0.3)  # after the second mark: not in the phase either
    finally:
        sampler.stop()
    got = phase(tmp_path / "a.json", tmp_path / "b.json")
    inclusive = dict(got["top_inclusive_pct"])
    mine = [k for k in inclusive if k.endswith(":during_the_phase")]
    assert mine and inclusive[mine[0]] > 80, got
    assert not [k for k in inclusive if k.endswith(":before_the_phase")], got
    assert 0 < got["cpu_seconds_sampled"] <= 0.35, got  # the kernel's timer may tick less often than asked


def test_sql_counts_of_a_phase_are_the_difference_of_its_marks() -> None:
    before = {
        "statements": {
            "credential:issuance": {"calls": 10, "seconds": 1.0},
            "http requests": {"calls": 5, "seconds": 0.5},
        },
        "consumed": {"credential--assessment": {"ack": 100.0}},
        "queries": {"credential:issuance": {"BEGIN;": 5, "COMMIT;": 5}},
    }
    after = {
        "statements": {
            "credential:issuance": {"calls": 25, "seconds": 1.75},
            "http requests": {"calls": 5, "seconds": 0.5},
            "credential:relay": {"calls": 4, "seconds": 0.1},
        },
        "consumed": {"credential--assessment": {"ack": 130.0, "dead_letter": 1.0}},
        "queries": {
            "credential:issuance": {"BEGIN;": 12, "COMMIT;": 5, "SELECT 1": 3},
            "credential:relay": {"SELECT 2": 4},
        },
    }
    assert sqlstats.difference(before, after) == {
        "statements": {
            "credential:issuance": {"calls": 15, "seconds": 0.75},
            "credential:relay": {"calls": 4, "seconds": 0.1},
        },
        "consumed": {"credential--assessment": {"ack": 30.0, "dead_letter": 1.0}},
        "queries": {"credential:issuance": {"BEGIN;": 7, "SELECT 1": 3}, "credential:relay": {"SELECT 2": 4}},
    }


def test_a_sample_taken_while_one_is_being_taken_is_skipped() -> None:
    # a nested handler's own sys._current_frames() would wait forever for the lock the outer one
    # holds (bench/sampler.py): the nested one must return at once, recording nothing
    import signal
    import sys

    sampler = Sampler()
    frame = sys._getframe()
    sampler._handler(signal.SIGPROF, frame)
    assert sampler.samples["main"] == 1
    sampler._sampling = True  # as inside the handler
    sampler._handler(signal.SIGPROF, frame)
    assert sampler.samples["main"] == 1
    sampler._sampling = False
    sampler._handler(signal.SIGPROF, frame)
    assert sampler.samples["main"] == 2
