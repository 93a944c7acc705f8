"""``detour serve``: the HTTP API and pages (uvicorn) and the ICAP server, in one process per core.

With one worker (``--workers 1``) everything runs in this process. With more, this process binds the sockets
and supervises the workers (``gateway.supervisor``); each worker is a runtime of its own (pipeline, recorder
with its own spool, reloader) on the shared store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from gateway.cli.common import EXIT_ALLOWED, EXIT_ERROR, add_policies_option, settings_from
from gateway.icap.server import istag
from gateway.policy.loader import Policy
from gateway.runtime import Runtime, spool_path
from gateway.settings import Settings
from gateway.store.metrics import multiprocess_metrics, worker_ended

# A stop (SIGTERM, SIGINT) lets what is being answered finish within this, then closes what is left; the
# runtime is then closed (what is queued stored) within the supervisor's STOP_SECONDS (45 s, after which it
# kills a worker) and Kubernetes' grace period (deploy/kubernetes: 10 s preStop + 45 s + margin)
DRAIN_SECONDS = 25.0


def add_commands(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API and the ICAP server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--icap-port", type=int, default=None,
                       help="ICAP port for proxies (default 1344, DETOUR_ICAP_PORT; 0: no ICAP)")
    serve.add_argument("--workers", type=int, default=None, choices=range(1, 65), metavar="N",
                       help="processes answering HTTP and ICAP (default: one per core, DETOUR_WORKERS)")
    add_policies_option(serve)
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gateway.policy.loader import load_policy
    from gateway.store.spool import adopt
    from gateway.store.store import DecisionStore, store_url
    from gateway.supervisor import Supervisor, bind, bind_another

    settings = settings_from(args)
    host = args.host or settings.host
    port = args.port or settings.port
    icap_port = settings.icap_port if args.icap_port is None else args.icap_port
    workers = args.workers or settings.workers or cores()
    listeners: dict[str, list[socket.socket]] = {}
    for what, number in (("HTTP", port), ("ICAP", icap_port)):
        if not number:
            continue
        try:
            listeners[what] = bind(host, number, workers)
        except OSError as problem:  # said before anything starts, in one line (not "serving on…" and a traceback)
            reason = (f"the host can't be resolved ({problem.strerror})" if isinstance(problem, socket.gaierror)
                      else problem.strerror or str(problem))
            option, variable = ("--port", "DETOUR_PORT") if what == "HTTP" else ("--icap-port", "DETOUR_ICAP_PORT")
            print(f"detour: can't serve {what} on {host}:{number}: {reason} (another detour serve? choose another "
                  f"with {option} or {variable})", file=sys.stderr)
            _close(listeners)
            return EXIT_ERROR

    bound = {group: group_sockets[0].getsockname()[1] for group, group_sockets in listeners.items()}

    def sockets(worker: int) -> tuple[Settings, socket.socket, socket.socket | None, str, int, int]:
        for group, number in bound.items():  # closed while the worker waited to start again: made anew
            if listeners[group][worker].fileno() == -1:
                listeners[group][worker] = bind_another(host, number)
        icap = listeners["ICAP"][worker] if "ICAP" in listeners else None
        return worker_settings, listeners["HTTP"][worker], icap, host, icap_port, workers

    # each worker's share of the spool's disk (DETOUR_SPOOL_MB is what the host gives it all)
    worker_settings = settings.model_copy(update={"spool_mb": max(1, settings.spool_mb // workers)})
    _quiet_start(settings)
    adopt(spool_path(settings).parent, spool_path(settings), workers)  # spools of a larger worker count
    if workers == 1:
        try:
            return _serve(*sockets(0), None, 0)
        finally:
            _close(listeners)
    # What the workers share is made once, before they start: the store's schema, the development hash key,
    # the policy checked (an invalid one is said once, not by every worker)
    policy = load_policy(settings.policies_dir, known_detectors=None)
    DecisionStore(store_url(settings)).close()
    settings.hash_key_bytes()
    metrics_folder = multiprocess_metrics()
    try:
        def pause(worker: int) -> None:  # a worker waits to be started again: its connections go to the others
            for group in listeners.values():
                group[worker].close()  # made anew when it starts (sockets())

        supervisor = Supervisor(_worker, sockets, workers, on_exit=worker_ended,
                                on_ready=lambda: _announce(policy, settings, host, port, icap_port, workers),
                                on_stop=lambda: _close(listeners), on_pause=pause)
        return EXIT_ERROR if supervisor.run() else EXIT_ALLOWED
    finally:
        _close(listeners)
        shutil.rmtree(metrics_folder, ignore_errors=True)


def _announce(policy: Policy, settings: Settings, host: str, port: int, icap_port: int, workers: int) -> None:
    """What ``detour serve`` serves, said once, when its sockets listen and its policy is known to be valid."""
    print(f"detour: policy {policy.document.policy.name} {policy.document.policy.version} "
          f"({', '.join(policy.files)} in {policy.directory}) loaded", file=sys.stderr)
    print(f"detour: serving on http://{host}:{port} (API docs at /docs) with {workers} worker process"
          f"{'es' if workers > 1 else ''}", file=sys.stderr)
    if icap_port:
        print(f"detour: ICAP on icap://{host}:{icap_port}/reqmod (ISTag {istag(policy)}) for proxies at "
              f"{settings.icap_clients} (DETOUR_ICAP_CLIENTS)", file=sys.stderr)


class _Server(uvicorn.Server):
    """uvicorn's server, whose graceful stop (SIGTERM, SIGINT) also drains the ICAP server, at the same time."""

    draining: Callable[[], Awaitable[None]] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn raises the signal again once it has stopped, which would end the process before the runtime
        # is closed (decisions still queued, reports in other languages, the SIEM's backlog): detour ends itself
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.draining is None:
            await super().shutdown(sockets)
        else:
            await asyncio.gather(super().shutdown(sockets), self.draining())


async def _warm(app: Any) -> None:
    """One request through the app in-process before serving: what the first request would import (anyio's
    thread pool, the middleware's modules) is imported now, not when the process may be out of descriptors."""
    import httpx

    access = logging.getLogger("detour.access")
    level = access.level
    access.setLevel(logging.WARNING)  # not a request anybody made
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://detour") as client:
            await client.get("/readyz")
    finally:
        access.setLevel(level)


def _close(listeners: dict[str, list[socket.socket]]) -> None:
    for listener in (s for group in listeners.values() for s in group):
        listener.close()


def cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a container's CPU quota (cgroup v2 cpu.max,
    v1 cpu.cfs_quota_us), which the affinity does not show."""
    count = len(os.sched_getaffinity(0))
    quota = None
    try:
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        quota = None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        try:
            limit_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
            period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            quota = limit_us / period_us if limit_us > 0 else None
        except (OSError, ValueError):
            quota = None
    return max(1, min(count, math.ceil(quota))) if quota else count


def _quiet_start(settings: Settings) -> None:
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("detour").setLevel(settings.log_level)
    if settings.log_level.upper() != "DEBUG":  # start-up is said in detour's own few lines
        for chatty in ("presidio-analyzer",  # every recognizer it loads
                       "alembic",  # every migration, in every worker
                       "httpx"):  # every request of the warm-up (_warm), the webhook's, the console's sign-in
            logging.getLogger(chatty).setLevel(logging.WARNING)


def _worker(settings: Settings, http_listener: socket.socket, icap_listener: socket.socket | None, host: str,
            icap_port: int, workers: int, ready: Any, worker: int) -> None:
    """A spawned worker process: ``_serve``, and why it can't start in one line (not a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.errors import ConfigurationError, DetourError
    from gateway.settings import HASH_KEY_FILE
    from gateway.supervisor import CANNOT_START

    try:
        if settings.hash_key is None and not (settings.data_dir / HASH_KEY_FILE).exists():
            # the supervisor made it before any worker started: gone now, a worker must not make its own
            raise ConfigurationError(f"{settings.data_dir / HASH_KEY_FILE} was removed while detour serve runs; "
                                     "restore it (or restart detour serve to make a new one)")
        _serve(settings, http_listener, icap_listener, host, icap_port, workers, ready, worker)
    except (DetourError, SQLAlchemyError) as problem:
        said = str(problem) if isinstance(problem, DetourError) else str(problem).splitlines()[0][:500]
        print(f"detour: worker {worker} can't start: {said}", file=sys.stderr)
        sys.exit(CANNOT_START)


def _serve(settings: Settings, http_listener: socket.socket, icap_listener: socket.socket | None, host: str,
           icap_port: int, workers: int, ready: Any, worker: int) -> int:
    """One worker: the HTTP app and the ICAP server on the listening sockets, until SIGTERM or SIGINT."""
    from detectors.extract.isolated import warm_up
    from gateway.http.app import create_app
    from gateway.http.server import GuardedH11Protocol, ResourceWarnings
    from gateway.icap.server import IcapConfig, IcapServer
    from gateway.supervisor import detach_from_terminal_signals, watch_supervisor

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload asked for while starting: it loads the folder anyway
    if workers > 1:  # a spawned worker: a fresh interpreter
        detach_from_terminal_signals()
        logging.basicConfig(level=settings.log_level, format=f"%(levelname)s [worker {worker}] %(name)s: %(message)s")
        _quiet_start(settings)
        watch_supervisor()
    runtime = Runtime.build(settings, worker)  # refuses to start with an invalid policy
    app = create_app(settings, runtime)
    warm_up()
    if workers == 1:
        _announce(runtime.policy, settings, host, http_listener.getsockname()[1], icap_port, workers)
    GuardedH11Protocol.header_seconds = settings.header_seconds
    GuardedH11Protocol.open_gauge = runtime.metrics.connection("http")
    runtime.metrics.worker_starts.inc()
    if workers > 1:
        runtime.metrics.start_sampling()
    quiet = settings.log_level.upper() not in ("DEBUG", "WARNING", "ERROR", "CRITICAL")
    server = _Server(uvicorn.Config(app, log_level="warning" if quiet else settings.log_level.lower(),
                                    timeout_graceful_shutdown=int(DRAIN_SECONDS),
                                    http=GuardedH11Protocol, timeout_keep_alive=int(settings.idle_seconds),
                                    limit_concurrency=settings.http_max_connections,
                                    # X-Forwarded-For only from the reverse proxies IT names
                                    proxy_headers=bool(settings.trusted_proxies),
                                    forwarded_allow_ips=settings.trusted_proxies or "",
                                    access_log=False))  # detour.access logs requests, without queries

    runtime.reloader.start()  # edits to the policy folder apply without a restart (or ask: kill -HUP)

    async def both() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(ResourceWarnings())
        await _warm(app)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, runtime.reloader.reload, "SIGHUP"))
        if icap_listener is not None:
            icap = IcapServer(runtime.pipeline, IcapConfig.of(settings, runtime.form_tokens))
            listener = await icap.start_on(icap_listener)
            server.draining = lambda: icap.drain(listener, DRAIN_SECONDS)  # with HTTP's, when a stop is asked
        if ready is not None:
            ready.set()  # the supervisor says "serving on", or starts the next worker
        await server.serve(sockets=[http_listener])

    try:
        asyncio.run(both())
    finally:
        runtime.close()
    return EXIT_ALLOWED
