"""A small statistical CPU profiler (py-spy is not installed; cProfile distorts async code).

``setitimer(ITIMER_PROF)`` sends SIGPROF every ``interval`` seconds of CPU time the process uses
(all threads), so samples are proportional to CPU, and an idle service takes none. Python runs the
handler in the main thread at the next bytecode boundary with the frame that was executing — the
event loop's code — and the handler also records what every other thread is doing unless it is
parked (a thread pool's queue wait): e.g. signing in ``asyncio.to_thread``. A thread sampler would
instead see the main thread mostly at its GIL-releasing socket writes, which is where it gets the
GIL, not where the time goes.

Output (JSON): samples (main / worker), the top functions by self and by inclusive samples, and
collapsed stacks (``a;b;c count``, the flame-graph input format). ``summarise`` reads it back.
"""

from __future__ import annotations

import collections
import gc
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

# A thread whose innermost Python frame is one of these is waiting, not running. ``own_loop.target``:
# a loop of its own (kernel OwnLoop) waiting in uvloop's C code; its callbacks run in Python frames above.
PARKED = {
    ("threading.py", "wait"),
    ("queue.py", "get"),
    ("thread.py", "_worker"),
    ("selectors.py", "select"),
    ("own_loop.py", "target"),
}


# Frames every stack of a service passes through, left out of the inclusive lists.
_SKIP = ("runpy", "bench/serve.py", "uvicorn/", "asyncio/base_events.py", "asyncio/events.py", "asyncio/runners")


# A sample's frames are named from their code objects once: naming costs ~3 us a frame, and a
# service's stacks are ~40 deep, so an uncached sampler took ~3 % of the CPU it measured.
_names: dict[CodeType, str] = {}


def _frame_key(frame: FrameType) -> str:
    code = frame.f_code
    name = _names.get(code)
    if name is None:
        path = code.co_filename
        short = path.split("site-packages/")[-1] if "site-packages" in path else "/".join(Path(path).parts[-3:])
        name = _names[code] = f"{short}:{code.co_name}"
    return name


def _stack(frame: FrameType | None) -> tuple[str, ...]:
    out: list[str] = []
    while frame is not None and len(out) < 100:
        out.append(_frame_key(frame))
        frame = frame.f_back
    return tuple(reversed(out))


class Sampler:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
        self.samples: collections.Counter[str] = collections.Counter()
        self.started = 0.0
        self.stopped = 0.0
        self._main = threading.main_thread().ident
        self._sampling = False
        # The cyclic garbage collector runs inside whatever allocation triggers it, so its time
        # shows up under that frame; gc.callbacks measures it on its own (CPU seconds, count per
        # generation, objects collected).
        self.gc_seconds: collections.Counter[int] = collections.Counter()
        self.gc_runs: collections.Counter[int] = collections.Counter()
        self.gc_collected = 0
        self._gc_began = 0.0

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.thread_time()
            return
        generation = info["generation"]
        self.gc_runs[generation] += 1
        self.gc_seconds[generation] += time.thread_time() - self._gc_began
        self.gc_collected += info["collected"]

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        # Never nested: a collection inside ``sys._current_frames()`` (which holds the interpreter's
        # thread-list lock) can run a weakref callback, at whose next bytecode a pending SIGPROF runs
        # this handler again, whose own ``sys._current_frames()`` then waits for that lock forever.
        # It did, once, in a benchmark run (its verification phase hung with the main thread there).
        if self._sampling:
            return
        self._sampling = True
        try:
            self.samples["main"] += 1
            self.stacks[("main", *_stack(frame))] += 1
            for ident, other in sys._current_frames().items():
                if ident == self._main:
                    continue
                leaf = (other.f_code.co_filename.rsplit("/", 1)[-1], other.f_code.co_name)
                if leaf in PARKED:
                    continue
                self.samples["worker"] += 1
                self.stacks[("worker", *_stack(other))] += 1
        finally:
            self._sampling = False

    def start(self) -> None:
        self.started = time.time()
        signal.signal(signal.SIGPROF, self._handler)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        gc.callbacks.append(self._gc)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        self.stopped = time.time()

    def report(self, top: int = 40) -> dict[str, Any]:
        self_counts: collections.Counter[str] = collections.Counter()
        incl: collections.Counter[str] = collections.Counter()
        for stack, n in self.stacks.items():
            self_counts[stack[-1]] += n
            for fn in set(stack[1:]):
                incl[fn] += n
        return {
            "interval_s": self.interval,
            "seconds": round(self.stopped - self.started, 1),
            "samples": dict(self.samples),
            "busy_samples": sum(self.stacks.values()),
            "gc": {
                "seconds": round(sum(self.gc_seconds.values()), 2),
                "seconds_by_generation": {g: round(t, 2) for g, t in sorted(self.gc_seconds.items())},
                "runs_by_generation": dict(sorted(self.gc_runs.items())),
                "collected": self.gc_collected,
                "thresholds": gc.get_threshold(),
                "frozen": gc.get_freeze_count(),
            },
            "top_self": self_counts.most_common(top),
            "top_inclusive": incl.most_common(top * 4),
            "collapsed": [";".join(s) + f" {n}" for s, n in self.stacks.most_common(5000)],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.report()))

    def mark(self, path: Path) -> None:
        """Every count so far (all stacks, not only the heaviest), so that two marks give a phase's
        own profile (:func:`phase`); the bench asks for one with SIGUSR1 (``bench/serve.py``)."""
        signal.setitimer(signal.ITIMER_PROF, 0, 0)  # no sample changes the counters while they are copied
        try:
            data = {
                "interval_s": self.interval,
                "at": time.time(),
                "samples": dict(self.samples),
                "gc_seconds": round(sum(self.gc_seconds.values()), 3),
                "stacks": [[";".join(stack), n] for stack, n in self.stacks.items()],
            }
        finally:
            signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        path.write_text(json.dumps(data))


def phase(before: Path, after: Path, top: int = 15) -> dict[str, Any]:
    """What a service's CPU did between two marks: sampled CPU seconds, the cyclic collector's
    seconds, and the top self and inclusive functions (% of the phase's samples), framework frames
    left out of the inclusive list as in :func:`summarise`."""
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    stacks: collections.Counter[str] = collections.Counter(dict(b["stacks"]))
    stacks.subtract(dict(a["stacks"]))
    self_counts: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        if n <= 0:
            continue
        frames = stack.split(";")
        self_counts[frames[-1]] += n
        for fn in set(frames[1:]):
            incl[fn] += n
    busy = max(1, sum(n for n in stacks.values() if n > 0))
    inclusive = [(k, round(100 * n / busy, 1)) for k, n in incl.most_common(top * 8) if not any(s in k for s in _SKIP)]
    return {
        "seconds": round(b["at"] - a["at"], 1),
        "cpu_seconds_sampled": round(busy * b["interval_s"], 1),
        "gc_seconds": round(b["gc_seconds"] - a["gc_seconds"], 2),
        "top_self_pct": [(k, round(100 * n / busy, 1)) for k, n in self_counts.most_common(top)],
        "top_inclusive_pct": inclusive[: top * 2],
    }


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """CPU shares (% of samples): the top self functions and the top inclusive ones, framework
    frames (runpy, uvicorn, the event loop) left out of the inclusive list."""
    data = json.loads(path.read_text())
    busy = max(1, data["busy_samples"])
    inclusive = [(k, round(100 * n / busy, 1)) for k, n in data["top_inclusive"] if not any(s in k for s in _SKIP)]
    return {
        "cpu_samples": data["samples"],
        "cpu_seconds_sampled": round(busy * data["interval_s"], 1),
        "gc": data.get("gc"),
        "top_self_pct": [(k, round(100 * n / busy, 1)) for k, n in data["top_self"][:top]],
        "top_inclusive_pct": inclusive[: top * 2],
    }


def rollup(path: Path, groups: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """Share of CPU samples whose stack contains any of each group's markers (first group wins)."""
    data = json.loads(path.read_text())
    total = 0
    counts: collections.Counter[str] = collections.Counter()
    for line in data["collapsed"]:
        stack, _, n = line.rpartition(" ")
        total += int(n)
        for name, markers in groups.items():
            if any(m in stack for m in markers):
                counts[name] += int(n)
                break
        else:
            counts["other"] += int(n)
    return {k: round(100 * v / max(1, total), 1) for k, v in counts.most_common()}
