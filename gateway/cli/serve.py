"""``detour serve``: the HTTP API and pages (uvicorn) and the ICAP server, in one process, on one runtime."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from typing import Any

from gateway.cli.common import EXIT_ALLOWED, EXIT_ERROR, add_policies_option, settings_from
from gateway.runtime import Runtime


def add_commands(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API and the ICAP server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--icap-port", type=int, default=None,
                       help="ICAP port for proxies (default 1344, DETOUR_ICAP_PORT; 0: no ICAP)")
    add_policies_option(serve)
    serve.set_defaults(run=run)


def _unavailable(host: str, port: int) -> str | None:
    """Why ``host:port`` can't be listened on (in use, not an address of this machine…), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as problem:
        return f"the host can't be resolved ({problem.strerror})"
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as problem:
            return problem.strerror or str(problem)
    return None


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from detectors.extract.isolated import warm_up
    from gateway.http.app import create_app
    from gateway.http.server import GuardedH11Protocol, ResourceWarnings
    from gateway.icap.server import IcapConfig, IcapServer

    settings = settings_from(args)
    host = args.host or settings.host
    port = args.port or settings.port
    icap_port = settings.icap_port if args.icap_port is None else args.icap_port
    for what, number in (("HTTP", port), ("ICAP", icap_port)):
        problem = _unavailable(host, number) if number else None
        if problem:  # said before anything starts, in one line (not "serving on…" and a traceback)
            print(f"detour: can't serve {what} on {host}:{number}: {problem} (another detour serve? choose another "
                  f"with --{'port' if what == 'HTTP' else 'icap-port'} or DETOUR_{what}_PORT)".replace(
                      "DETOUR_HTTP_PORT", "DETOUR_PORT"), file=sys.stderr)
            return EXIT_ERROR
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("detour").setLevel(settings.log_level)
    if settings.log_level.upper() != "DEBUG":  # presidio announces every recognizer it loads, at INFO
        logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    runtime = Runtime.build(settings)  # refuses to start with an invalid policy
    app = create_app(settings, runtime)
    warm_up()
    policy = runtime.policy
    print(f"detour: policy {policy.document.policy.name} {policy.document.policy.version} "
          f"({', '.join(policy.files)} in {policy.directory}) loaded", file=sys.stderr)
    print(f"detour: serving on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    GuardedH11Protocol.header_seconds = settings.header_seconds
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower(),
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
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, runtime.reloader.reload, "SIGHUP"))
        if icap_port:
            icap = IcapServer(runtime.pipeline, IcapConfig.of(settings, runtime.form_tokens))
            listener = await icap.start(host, icap_port)
            print(f"detour: ICAP on icap://{host}:{icap_port}/reqmod (ISTag {icap.istag}) for proxies at "
                  f"{settings.icap_clients} (DETOUR_ICAP_CLIENTS)", file=sys.stderr)
            async with listener:
                await server.serve()
        else:
            await server.serve()

    try:
        asyncio.run(both())
    finally:
        runtime.close()
    return EXIT_ALLOWED
