"""The ``detour`` command: one module per command group, each adding its subcommands to the parser.

``scan`` (files as uploads), ``eval`` (accuracy on a labelled corpus), ``serve``
(HTTP and ICAP), ``edm`` (exact data match sets), ``policy`` (check, test,
schema, simulate, versions, diff), ``client`` (API client tokens), ``admin`` (admin API tokens),
``purge`` (decisions past the retention period).
Exit status of ``detour scan`` follows clamscan: 0 everything allowed,
1 at least one upload blocked, 2 an error (unreadable file, invalid policy).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli import admin, client, edm, evaluate, policy, purge, scan, serve
from gateway.cli.common import EXIT_ERROR, OneLine
from gateway.errors import DetourError


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)  # what Detour writes (the store, its spool, EDM sets, the audit log) is for the service alone
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLine())
    try:
        code: int = args.run(args)
        return code
    except DetourError as exc:
        print(f"detour: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SQLAlchemyError as exc:  # the decision store can't be reached (a wrong DETOUR_DATABASE_URL, a server down)
        cause = getattr(exc, "orig", None) or exc  # the driver's own words, first line: no statement, no values
        print(f"detour: the decision store can't be used: {type(exc).__name__}: "
              f"{(str(cause).splitlines() or [''])[0][:200]}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        for error in exc.errors():  # a DETOUR_* variable: say which, and why, without a traceback
            name = f"DETOUR_{str(error['loc'][0]).upper()}: " if error["loc"] else ""
            print(f"detour: invalid setting: {name}{error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `detour … | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="detour", description="Detour data-loss-prevention upload gateway")
    commands = root.add_subparsers(dest="command", required=True)
    for group in (scan, evaluate, serve, edm, policy, client, admin, purge):
        group.add_commands(commands)
    return root
