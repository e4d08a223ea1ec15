"""A process pool with a per-item time limit: a stuck item costs its worker, never the caller.

``concurrent.futures`` cannot stop a running task, so a pathological input (RDKit bond
perception on a strange geometry, a conformer search that never converges) would stall a whole
evaluation. Here every worker runs one item at a time and reports each result as it finishes;
a worker silent for longer than ``timeout`` is killed, its item is reported as a timeout and a
fresh worker takes its place. Pools are kept alive between calls (``shared_pool``) so that
streaming callers (a sampler writing batches) do not pay process start-up every batch.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

STARTUP_TIMEOUT = 120.0  # seconds a new worker may take to import its modules


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: ``status`` is "ok", "error", "timeout" or "crash"."""

    status: str
    value: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the function returned normally."""
        return self.status == "ok"


def default_workers() -> int:
    """Worker processes to use when none are asked for: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_main(conn: Connection, fn: Callable[[Any], Any]) -> None:
    """Worker loop: announce readiness, then run ``fn`` on each item of each chunk received."""
    conn.send(("ready", None))
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, item in chunk:
            try:
                outcome = Outcome("ok", fn(item))
            except Exception as exc:  # noqa: BLE001 - reported to the caller per item
                outcome = Outcome("error", None, f"{type(exc).__name__}: {exc}".strip())
            try:
                conn.send((index, outcome))
            except (OSError, BrokenPipeError):  # the caller is gone
                return


def worker_entry(fd: int, target: str) -> None:
    """Entry point of a worker interpreter: resolve ``module:qualname`` and serve the socket ``fd``."""
    module_name, _, qualname = target.partition(":")
    fn: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        fn = getattr(fn, part)
    _worker_main(Connection(fd), fn)


_BOOTSTRAP = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[3]); "
    "from gen3d.metrics.pool import worker_entry; worker_entry(int(sys.argv[1]), sys.argv[2])"
)


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    assigned: deque = field(default_factory=deque)  # indices sent and not yet answered
    deadline: float = float("inf")


class TimedPool:
    """``workers`` processes running ``fn`` (a module-level function) with per-item time limits.

    Workers are fresh interpreters (not forks, not ``multiprocessing`` spawns), so they neither
    inherit the caller's threads (torch, progress bars) nor re-import the caller's ``__main__``;
    ``fn`` is looked up by module and name in the worker, so it must be importable.
    """

    def __init__(self, fn: Callable[[Any], Any], workers: int | None = None) -> None:
        self.fn = fn
        self.target = f"{fn.__module__}:{fn.__qualname__}"
        self.size = max(1, workers or default_workers())
        self._workers: list[_Worker] = []
        self._pid = os.getpid()

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        paths = json.dumps([p for p in sys.path if p])
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(theirs.fileno()), self.target, paths],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
            )
        finally:
            theirs.close()
        return _Worker(process, Connection(ours.detach()))

    def _retire(self, worker: _Worker, kill: bool) -> None:
        if kill and worker.process.poll() is None:
            worker.process.kill()
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        worker.conn.close()
        self._workers.remove(worker)

    def map(
        self,
        items: Sequence[Any],
        timeout: float | None = 5.0,
        chunk_size: int = 1,
        on_result: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Run ``fn`` on every item; ``timeout`` is seconds per item (None: no limit)."""
        results: list[Outcome | None] = [None] * len(items)
        pending = deque(range(len(items)))
        limit = float("inf") if timeout is None else float(timeout)
        try:
            while pending or any(w.assigned for w in self._workers):
                busy = sum(bool(w.assigned) for w in self._workers)
                while len(self._workers) < min(self.size, busy + len(pending)):
                    self._workers.append(self._spawn())  # also replaces workers lost to timeouts
                now = time.monotonic()
                for worker in list(self._workers):
                    if worker.ready and not worker.assigned and pending:
                        batch = [pending.popleft() for _ in range(min(chunk_size, len(pending)))]
                        try:
                            worker.conn.send([(i, items[i]) for i in batch])
                        except OSError:  # died while idle (killed from outside): retry elsewhere
                            pending.extendleft(reversed(batch))
                            self._retire(worker, kill=True)
                            continue
                        worker.assigned.extend(batch)
                        worker.deadline = now + limit
                waits = [w.deadline for w in self._workers if w.assigned]
                waits += [w.started + STARTUP_TIMEOUT for w in self._workers if not w.ready]
                delay = max(0.0, min(waits) - now) if waits else None
                ready = wait([w.conn for w in self._workers], timeout=min(delay, 3600.0) if delay is not None else None)
                for worker in [w for w in self._workers if w.conn in ready]:
                    self._receive(worker, results, pending, limit, on_result)
                self._expire(results, pending, on_result)
        except BaseException:
            self.close(kill=True)
            raise
        return results  # type: ignore[return-value]

    def _finish(self, index: int, outcome: Outcome, results: list, on_result: Callable | None) -> None:
        results[index] = outcome
        if on_result is not None:
            on_result(index, outcome)

    def _receive(self, worker: _Worker, results: list, pending: deque, limit: float, on_result: Callable | None) -> None:
        """Drain the messages of one worker; a closed pipe means it died on its current item."""
        try:
            while worker.conn.poll():
                index, outcome = worker.conn.recv()
                if index == "ready":
                    worker.ready = True
                    continue
                worker.assigned.remove(index)
                worker.deadline = time.monotonic() + limit
                self._finish(index, outcome, results, on_result)
        except (EOFError, OSError):
            if not worker.ready:
                self.close(kill=True)
                raise RuntimeError(f"a worker process for {self.target} failed to start") from None
            if worker.assigned:
                self._finish(worker.assigned.popleft(), Outcome("crash", None, "worker process died"), results, on_result)
            pending.extendleft(reversed(worker.assigned))
            self._retire(worker, kill=True)

    def _expire(self, results: list, pending: deque, on_result: Callable | None) -> None:
        """Kill workers past their deadline; their current item times out, the rest are re-queued."""
        now = time.monotonic()
        for worker in list(self._workers):
            if not worker.ready and now > worker.started + STARTUP_TIMEOUT:
                self.close(kill=True)
                raise RuntimeError(f"a worker process for {self.target} did not start in {STARTUP_TIMEOUT:.0f} s")
            if worker.assigned and now >= worker.deadline:
                self._finish(worker.assigned.popleft(), Outcome("timeout"), results, on_result)
                pending.extendleft(reversed(worker.assigned))
                self._retire(worker, kill=True)

    def close(self, kill: bool = False) -> None:
        """Stop all workers (politely unless ``kill``)."""
        if os.getpid() != self._pid:  # a forked copy does not own these processes
            self._workers = []
            return
        for worker in list(self._workers):
            if not kill:
                try:
                    worker.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
            self._retire(worker, kill=kill or bool(worker.assigned))


def run_here(
    fn: Callable[[Any], Any], items: Sequence[Any], on_result: Callable[[int, Outcome], None] | None = None
) -> list[Outcome]:
    """Run ``fn`` on every item in this process (no time limit), with the same outcomes as ``map``."""
    results = []
    for index, item in enumerate(items):
        try:
            outcome = Outcome("ok", fn(item))
        except Exception as exc:  # noqa: BLE001 - reported per item
            outcome = Outcome("error", None, f"{type(exc).__name__}: {exc}".strip())
        results.append(outcome)
        if on_result is not None:
            on_result(index, outcome)
    return results


_POOLS: dict[tuple[str, str, int], TimedPool] = {}


def shared_pool(fn: Callable[[Any], Any], workers: int | None = None) -> TimedPool:
    """A pool for ``fn`` kept alive for the rest of the process (closed at exit)."""
    size = max(1, workers or default_workers())
    key = (fn.__module__, fn.__qualname__, size)
    pool = _POOLS.get(key)
    if pool is None or pool._pid != os.getpid():
        pool = _POOLS[key] = TimedPool(fn, size)
    return pool


@atexit.register
def close_shared_pools() -> None:
    """Stop every shared pool's workers."""
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
