"""``detour serve --workers N``: N worker processes answer HTTP and ICAP on the same listening sockets.

The supervisor (the process ``detour serve`` runs as) binds the sockets, then starts the workers, spawned (a
fresh interpreter each: no threads, locks or forkserver inherited), handing each its sockets. Each worker has
listening sockets of its own on the same ports (``SO_REUSEPORT``): the kernel spreads new connections over
them by a hash of their addresses. (One socket shared by all would not do: a worker's event loop accepts every
connection waiting at once, so the 20 persistent connections a proxy opens together would all land on one
worker.) The supervisor keeps every worker's sockets open, so a connection that arrives for a worker while it
is started again waits in its queue instead of being refused.

- Worker 0 starts first, alone: when it can't start (exit code ``CANNOT_START``: an invalid policy, a store
  that can't be reached) it says why once and ``detour serve`` stops. Once serving, a worker that ends is
  started again: at once, then after 1, 2, 4… up to ``MAX_PAUSE`` seconds while it keeps ending, whatever
  the reason (a store down for a while, a policy folder invalid just now); the others go on serving.
- SIGTERM or SIGINT: the supervisor closes its copies of the sockets, and the workers are asked to stop (they
  close theirs, so new connections are refused; finish what they answer; store what they decided); a worker
  still running after ``STOP_SECONDS`` is killed.
- SIGHUP: each worker reloads the policy.
- A worker watches its supervisor and stops when the supervisor is gone (killed with SIGKILL, say).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from gateway.settings import LISTEN_BACKLOG

log = logging.getLogger(__name__)

CANNOT_START = 3  # a worker's exit code when it can't start (an invalid policy, an unreachable store): no retry
MAX_PAUSE = 30.0  # the longest wait before a worker that keeps ending is started again
RESTART_WINDOW = 60.0  # ends within this count towards the wait
STOP_SECONDS = 45.0  # drain (DRAIN_SECONDS, 25 s) + closing the runtime (storing what is queued)
WATCH_SECONDS = 1.0


def bind(host: str, port: int, count: int = 1) -> list[socket.socket]:
    """``count`` listening sockets for ``host:port`` (with ``SO_REUSEPORT`` when more than one), inheritable by
    the workers. Raises ``OSError`` (in use, even by sockets that share theirs; not an address of this machine)
    or ``socket.gaierror`` (a name that can't be resolved)."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listeners: list[socket.socket] = []
    try:
        first = _listen(family, kind, protocol, address, share=False)  # a port in use by anyone is refused here
        if count == 1:
            return [first]
        address = first.getsockname()  # port 0: the port the system chose, for all of them
        first.close()
        for _ in range(count):
            listeners.append(_listen(family, kind, protocol, address, share=True))
    except BaseException:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def bind_another(host: str, port: int) -> socket.socket:
    """One more listening socket on a port the workers already share (``SO_REUSEPORT``)."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return _listen(family, kind, protocol, address, share=True)


def _listen(family: int, kind: int, protocol: int, address: Any, share: bool) -> socket.socket:
    listener = socket.socket(family, kind, protocol)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        if share:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
    except BaseException:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


class Supervisor:
    """Runs ``target(*arguments(worker), ready, worker)`` in ``workers`` processes and keeps them running until
    told to stop; a worker sets ``ready`` (an event) when it serves. Worker 0 starts first, alone: when it can't
    start (an invalid policy, say) it says why once and nothing else starts; when it serves, ``on_ready`` is
    called and the others start."""

    def __init__(self, target: Callable[..., None], arguments: Callable[[int], tuple[Any, ...]], workers: int,
                 on_exit: Callable[[int], None] | None = None, on_ready: Callable[[], None] | None = None,
                 on_stop: Callable[[], None] | None = None, on_pause: Callable[[int], None] | None = None) -> None:
        self.target, self.arguments, self.workers = target, arguments, workers
        self.on_exit = on_exit  # told the pid of each worker that ended (its metrics are then summed as dead)
        self.on_ready = on_ready
        self.on_stop = on_stop  # before the workers are asked to stop: close the supervisor's listening sockets
        # a worker that keeps ending waits before it starts again: its sockets are closed meanwhile (connections
        # go to the other workers, not to a queue nobody takes from) and made anew for its next start
        self.on_pause = on_pause
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[int, BaseProcess] = {}
        self._ready: dict[int, Any] = {}
        self._deaths: dict[int, list[float]] = {slot: [] for slot in range(workers)}
        self._stopping = False
        self._reload = False

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes.values() if process.pid is not None]

    def run(self) -> int:
        """Start the workers and watch them; returns 0 after a stop asked for, 2 when a worker keeps dying."""
        previous = {number: signal.signal(number, self._signalled)
                    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            failed = not self._first() and not self._stopping  # a stop asked for while starting is no failure
            if not failed and not self._stopping:
                for slot in range(1, self.workers):
                    self._start(slot)
                self._watch()
        finally:
            self._stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
        return 2 if failed else 0

    def _signalled(self, number: int, _frame: object) -> None:
        if number == signal.SIGHUP:
            self._reload = True
        else:
            self._stopping = True

    def _first(self) -> bool:
        """Start worker 0 and wait until it serves (True) or ends (False), or a stop is asked for (False)."""
        ready = self._start(0)
        process = self._processes[0]
        while not self._stopping:
            if ready.wait(WATCH_SECONDS):
                if self.on_ready is not None:
                    self.on_ready()
                return True
            if not process.is_alive():
                process.join()
                self._processes.pop(0)
                if process.exitcode != CANNOT_START:
                    log.error("worker 0 ended with exit code %s before it served", process.exitcode)
                return False
        return False

    def _start(self, slot: int) -> Any:
        ready = self._ready[slot] = self._context.Event()  # kept: the child opens it by name after it starts
        process = self._context.Process(target=self.target, args=(*self.arguments(slot), ready, slot),
                                        name=f"detour-worker-{slot}", daemon=False)
        process.start()
        self._processes[slot] = process
        return ready

    def _watch(self) -> None:
        due: dict[int, float] = {}  # workers to start again, and when
        while not self._stopping:
            if self._reload:
                self._reload = False
                self._send(signal.SIGHUP, ready_only=True)  # one still starting loads the folder as it is
            now = time.monotonic()
            for slot in [s for s, when in due.items() if when <= now]:
                del due[slot]
                self._start(slot)
            sentinels = {process.sentinel: slot for slot, process in self._processes.items()}
            wait_for = min([WATCH_SECONDS, *(max(0.0, when - now) for when in due.values())])
            for ended in wait(list(sentinels), timeout=wait_for):
                slot = sentinels[ended]  # type: ignore[index]
                process = self._processes.pop(slot)
                process.join()
                if self.on_exit is not None and process.pid is not None:
                    self.on_exit(process.pid)
                if self._stopping:
                    break
                now = time.monotonic()
                deaths = [t for t in self._deaths[slot] if now - t < RESTART_WINDOW] + [now]
                self._deaths[slot] = deaths
                # at once the first time; then 1, 2, 4… up to 30 s between tries while it keeps ending (a store
                # that is down, a policy folder that is invalid just now): the other workers go on serving
                pause = 0.0 if len(deaths) == 1 else min(MAX_PAUSE, 2.0 ** (len(deaths) - 2))
                log.error("worker %d (pid %s) ended with exit code %s; starting it again%s", slot, process.pid,
                          process.exitcode, f" in {pause:g} s ({len(deaths)} ends within {RESTART_WINDOW:g} s)"
                          if pause else "")
                if pause and self.on_pause is not None:
                    self.on_pause(slot)
                due[slot] = now + pause

    def _send(self, number: int, ready_only: bool = False) -> None:
        for slot, process in self._processes.items():
            if ready_only and not self._ready[slot].is_set():
                continue
            if process.pid is not None and process.is_alive():
                try:
                    os.kill(process.pid, number)
                except ProcessLookupError:
                    pass

    def _stop(self) -> None:
        if self.on_stop is not None:  # new connections are refused at once (a load balancer tries another
            self.on_stop()            # replica), instead of waiting in a queue no worker will accept from
        self._send(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self._processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop within %g s; killed", process.name, STOP_SECONDS)
                process.kill()
                process.join()
            if self.on_exit is not None and process.pid is not None:
                self.on_exit(process.pid)
        self._processes.clear()


def watch_supervisor(interval: float = WATCH_SECONDS) -> None:
    """In a worker: stop (SIGTERM to itself, the graceful way) once the supervisor is gone."""
    supervisor = os.getppid()

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def detach_from_terminal_signals() -> None:
    """In a worker: Ctrl-C in a terminal reaches the whole process group; the supervisor alone takes it and asks
    the workers to stop, once (a second signal would make a worker stop without draining)."""
    try:
        os.setpgid(0, 0)
    except OSError:  # already a group leader
        pass
