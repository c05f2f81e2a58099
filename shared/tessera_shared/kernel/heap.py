"""The cyclic garbage collector, set for a long-running service.

CPython's collector scans the youngest generation every 700 net container allocations and, now and
then, the whole heap. In a service that means the whole heap it built at start-up (imports, JSON
Schemas, JSON-LD contexts, pydantic models), every time, although none of it ever becomes garbage.
Measured under the benchmark, collection took 14 % of the credential service's CPU and 7-12 % of
the others' (docs/benchmarks.md, item 21). So, once start-up is done: freeze what exists (it moves
to a generation the collector never scans; reference counting still frees it), and scan the youngest
generation less often. Most of a request's or a batch's objects are freed by reference counting
anyway; the collector is only for cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # net container allocations between scans of the youngest generation
_settled = False


def settle(young_threshold: int = YOUNG_THRESHOLD) -> bool:
    """Freeze the heap start-up built and space out young collections (0 keeps Python's default).

    Once per process: a process that starts several services (the tests) settles at the first.
    Returns whether this call did it."""
    global _settled
    if _settled:
        return False
    _settled = True
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, old)
    return True
