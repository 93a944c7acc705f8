"""``detour client token create|rotate``, ``detour client list|revoke``: the programs that may call the API.

A token is shown once, when it is made (on standard output, alone on its line, so
a script can take it); the store keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import EXIT_ALLOWED, settings_from
from gateway.store.clients import REFRESH_SECONDS, ApiClients
from gateway.store.store import DecisionStore, store_url


def add_commands(commands: Any) -> None:
    group = commands.add_parser("client", help="API clients: the programs that may call /v1/… and their tokens")
    client_commands = group.add_subparsers(dest="client_command", required=True)
    token = client_commands.add_parser("token", help="make a client's token")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="a new client and its token")
    create.add_argument("name", help="what the client is, e.g. mitmproxy-office or intranet-portal")
    create.add_argument("--may-assert-user", action="store_true",
                        help="it may say on whose behalf it sends (user, group, the person's address): for a "
                             "proxy add-on or portal that knows who is browsing")
    create.add_argument("--days", type=int, help="the token expires after this many days (default: when revoked)")
    create.set_defaults(run=run_create)
    rotate = token_commands.add_parser("rotate", help="a new token for a client; its old token stops working")
    rotate.add_argument("name")
    rotate.add_argument("--days", type=int, help="the new token expires after this many days (default: when the "
                                                  "old one would have)")
    rotate.set_defaults(run=run_rotate)
    listing = client_commands.add_parser("list", help="the clients, their rights and whether they still work")
    listing.set_defaults(run=run_list)
    revoke = client_commands.add_parser("revoke", help="stop a client's token from working")
    revoke.add_argument("name")
    revoke.set_defaults(run=run_revoke)


def _clients() -> ApiClients:
    settings = settings_from(argparse.Namespace())
    return ApiClients(DecisionStore(store_url(settings)))


def _show(name: str, token: str) -> None:
    print(f"The token of {name!r}, shown only now (Detour keeps only its hash):", file=sys.stderr)
    print(token)
    print("The client sends it as: Authorization: Bearer <token>", file=sys.stderr)


def run_create(args: argparse.Namespace) -> int:
    _show(args.name, _clients().create(args.name, args.may_assert_user, args.days))
    return EXIT_ALLOWED


def run_rotate(args: argparse.Namespace) -> int:
    _show(args.name, _clients().rotate(args.name, args.days))
    return EXIT_ALLOWED


def run_list(args: argparse.Namespace) -> int:
    listing, now = _clients().listing(), datetime.now(UTC)
    if not listing:
        print("No API clients. Make one with: detour client token create NAME", file=sys.stderr)
    for client in listing:
        rights = "may name users" if client.may_assert_user else "anonymous uploads"
        if client.revoked:
            state = f"revoked {client.revoked:%Y-%m-%d %H:%M}"
        elif client.expires and client.expires <= now:
            state = f"expired {client.expires:%Y-%m-%d %H:%M}"
        elif client.expires:
            state = f"expires {client.expires:%Y-%m-%d %H:%M}"
        else:
            state = "no expiry"
        print(f"{client.name}\t{rights}\tcreated {client.created:%Y-%m-%d}\t{state}")
    return EXIT_ALLOWED


def run_revoke(args: argparse.Namespace) -> int:
    _clients().revoke(args.name)
    print(f"{args.name}: revoked; its token stops working within {REFRESH_SECONDS:g} seconds on every instance")
    return EXIT_ALLOWED
