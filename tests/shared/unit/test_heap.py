"""The collector settings a service takes once started (kernel/heap.py), each case in a fresh
interpreter: settling changes the process's collector for good."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout)


def test_settling_freezes_what_exists_and_spaces_out_young_collections() -> None:
    seen = _run(
        """
        import gc, json
        from tessera_shared.kernel import heap

        before = [{"built": "at start-up"} for _ in range(1000)]
        first = heap.settle(5000)
        frozen = gc.get_freeze_count()
        scanned = {id(o) for o in gc.get_objects()}
        again = heap.settle(123)

        # a cycle made afterwards is still garbage the collector finds
        class Node: pass
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        collected = gc.collect()
        print(json.dumps({
            "first": first, "again": again, "frozen": frozen, "threshold": gc.get_threshold(),
            "start_up_objects_scanned": sum(id(o) in scanned for o in before), "collected": collected,
        }))
        """
    )
    assert seen["first"] is True and seen["again"] is False
    assert seen["threshold"][0] == 5000  # type: ignore[index]  # the second call changed nothing
    assert seen["frozen"] >= 1000  # type: ignore[operator]
    assert seen["start_up_objects_scanned"] == 0  # frozen: outside every generation the collector scans
    assert seen["collected"] >= 2  # type: ignore[operator]


def test_zero_keeps_pythons_own_young_threshold() -> None:
    seen = _run(
        """
        import gc, json
        from tessera_shared.kernel import heap
        default = gc.get_threshold()
        heap.settle(0)
        print(json.dumps({"default": default, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
        """
    )
    assert seen["after"] == seen["default"]
    assert seen["frozen"] > 0  # type: ignore[operator]
