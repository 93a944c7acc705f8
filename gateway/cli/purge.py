"""``detour purge``: remove the decisions older than the retention period now (``detour serve`` does it hourly)."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.common import EXIT_ALLOWED, settings_from
from gateway.store import retention
from gateway.store.store import DecisionStore, store_url


def add_commands(commands: Any) -> None:
    purge = commands.add_parser("purge", help="remove decisions older than the retention period from the store")
    purge.add_argument("--days", type=_days, help="keep this many days (default: DETOUR_RETENTION_DAYS, 180)")
    purge.add_argument("--dry-run", action="store_true", help="say how many would go; remove nothing")
    purge.set_defaults(run=run_purge)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("give a whole number of days") from None
    if days < 0:
        raise argparse.ArgumentTypeError("give 0 (keep everything) or more days")
    return days


def run_purge(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    days = settings.retention_days if args.days is None else args.days
    if days < 1:
        print("nothing to purge: decisions are kept for ever (DETOUR_RETENTION_DAYS=0 or --days 0)")
        return EXIT_ALLOWED
    store = DecisionStore(store_url(settings))
    try:
        if args.dry_run:
            due = retention.due(store, days)
            print(f"{due} decision{'' if due == 1 else 's'} made before "
                  f"{retention.cutoff(days):%Y-%m-%d %H:%M} UTC would be purged")
            return EXIT_ALLOWED
        purged = retention.purge(store, days)
    finally:
        store.close()
    print(f"{purged.decisions} decision{'' if purged.decisions == 1 else 's'} made before "
          f"{purged.before:%Y-%m-%d %H:%M} UTC purged")
    return EXIT_ALLOWED
