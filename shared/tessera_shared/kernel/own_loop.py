"""A background loop on an event loop of its own, in a thread of its own.

Why: a service's background worker that runs many short, sequential database statements (the
credential service's issuance batches) waits, after each statement, for its turn in the
service's event loop — behind every callback the consumers and the HTTP routes queued meanwhile.
Under load one such turn takes tens of milliseconds, so a batch of twenty statements took ten
times its own work. On a loop of its own the worker waits only for the interpreter's lock, which
a busy thread hands over every ``sys.getswitchinterval()``: Python's 5 ms, which a service
shortens (:func:`set_switch_interval`, ``SWITCH_INTERVAL_MS``).

What runs on the own loop must own everything it awaits there (its own connection pool, its own
asyncio objects): asyncio objects are bound to one loop and are not thread-safe. The owner
talks to it only through :meth:`OwnLoop.call_soon` (thread-safe) and :meth:`OwnLoop.run`'s result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

# A worker on its own loop needs the interpreter lock back after each statement it awaited; while the
# service's main thread is busy it gets it only when the main thread is made to hand it over, after
# the switch interval. A batch awaits some ten statements and its signing processes' answers, so at
# Python's 5 ms a batch waited up to ~60 ms for the lock alone under load (docs/benchmarks.md, item 41).
SWITCH_INTERVAL_MS = 1.0


def set_switch_interval(milliseconds: float) -> None:
    """How long a busy thread keeps the interpreter lock from a thread that waits for it."""
    sys.setswitchinterval(milliseconds / 1000)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (uvicorn's ``standard`` extra brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed wherever the services run
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class OwnLoop:
    """Runs one coroutine function at a time on a fresh event loop in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def run(self, main: Callable[[], Awaitable[None]]) -> None:
        """Run ``main()`` on its own loop until it returns; its exception is raised here.

        If the caller is cancelled, ``main`` is not (it holds its own resources and is asked to stop
        through :meth:`call_soon`); the daemon thread ends with it or with the process.
        """
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def target() -> None:
            loop = new_event_loop()
            with self._lock:
                self._loop = loop
            failure: BaseException | None = None
            try:
                asyncio.set_event_loop(loop)
                loop.run_until_complete(main())
            except BaseException as exc:  # handed to the owner, who decides
                failure = exc
            finally:
                with self._lock:
                    if self._loop is loop:  # not a later run's loop
                        self._loop = None
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
            # last, after the cleanup: the owner may start the next run as soon as it hears. An owner
            # that was cancelled meanwhile has cancelled the future and hears nothing.
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                if failure is not None:
                    done.set_exception(failure)
                else:
                    done.set_result(None)

        threading.Thread(target=target, name=self.name, daemon=True).start()
        await asyncio.wrap_future(done)

    def call_soon(self, callback: Callable[[], object]) -> bool:
        """Schedule ``callback()`` on the own loop from any thread; False when nothing runs there."""
        with self._lock:
            loop = self._loop
            if loop is None or loop.is_closed():
                return False
            loop.call_soon_threadsafe(callback)
            return True
