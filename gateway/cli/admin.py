"""``detour admin token create|list|revoke``: tokens for IT's admin API (``/v1/admin/…``).

A token is shown once, when it is made (on standard output, alone on its last line, so a script can take
it); the store keeps only its SHA-256. Every token has a role and an expiry.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import EXIT_ALLOWED, settings_from
from gateway.store.admin import DEFAULT_DAYS, MAX_DAYS, AdminTokens, Role
from gateway.store.store import DecisionStore, store_url


def add_commands(commands: Any) -> None:
    group = commands.add_parser("admin", help="IT's admin API: its tokens and their roles")
    admin_commands = group.add_subparsers(dest="admin_command", required=True)
    token = admin_commands.add_parser("token", help="admin API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="a new admin token (printed once, as the last line)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role],
                        help="viewer: the dashboard and counts, never a decision; reviewer: also the decisions "
                             "with masked findings, exports, review requests and reports, exceptions; policy_admin: "
                             "also revoking exceptions, the policy in force, the record of admin actions")
    create.add_argument("--name", required=True, help="whose or what it is, e.g. anna.berg or siem-export")
    create.add_argument("--days", type=int, default=DEFAULT_DAYS,
                        help=f"it expires after this many days (default {DEFAULT_DAYS}, at most {MAX_DAYS})")
    create.set_defaults(run=run_create)
    listing = token_commands.add_parser("list", help="the admin tokens, their roles and whether they still work")
    listing.set_defaults(run=run_list)
    revoke = token_commands.add_parser("revoke", help="stop an admin token from working (at once)")
    revoke.add_argument("name")
    revoke.set_defaults(run=run_revoke)


def _tokens() -> AdminTokens:
    settings = settings_from(argparse.Namespace())
    url = store_url(settings)
    print(f"store: {url.split('@')[-1] if settings.database_url else url}", file=sys.stderr)  # never a password
    return AdminTokens(DecisionStore(url))


def run_create(args: argparse.Namespace) -> int:
    token = _tokens().create(args.name, Role(args.role), args.days)
    print(f"The admin token {args.name!r} ({args.role}, {args.days} days), shown only now (Detour keeps only its "
          "hash). Send it as: Authorization: Bearer <token>", file=sys.stderr)
    print(token)
    return EXIT_ALLOWED


def run_list(args: argparse.Namespace) -> int:
    listing, now = _tokens().list(), datetime.now(UTC)
    if not listing:
        print("No admin tokens. Make one with: detour admin token create --role reviewer --name NAME",
              file=sys.stderr)
    for token in listing:
        if token.revoked:
            state = f"revoked {token.revoked:%Y-%m-%d %H:%M}"
        elif token.expires <= now:
            state = f"expired {token.expires:%Y-%m-%d %H:%M}"
        else:
            state = f"expires {token.expires:%Y-%m-%d %H:%M}"
        used = f"last used {token.last_used:%Y-%m-%d %H:%M}" if token.last_used else "never used"
        print(f"{token.name}\t{token.role.value}\tcreated {token.created:%Y-%m-%d}\t{state}\t{used}")
    return EXIT_ALLOWED


def run_revoke(args: argparse.Namespace) -> int:
    _tokens().revoke(args.name)
    print(f"{args.name}: revoked; it stops working at once")
    return EXIT_ALLOWED
