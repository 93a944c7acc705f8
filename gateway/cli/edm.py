"""``detour edm add|list|remove``: exact data match sets, kept in the decision store as keyed hashes of chosen
columns."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from detectors import edm
from detectors.extract.text import decode
from gateway.cli.common import EXIT_ALLOWED, settings_from
from gateway.errors import DetourError
from gateway.runtime import load_fingerprints
from gateway.settings import Settings
from gateway.store import edm as edm_store
from gateway.store.store import DecisionStore, store_url


def add_commands(commands: Any) -> None:
    group = commands.add_parser("edm", help="exact data match: register exports of datasets as salted hashes")
    edm_commands = group.add_subparsers(dest="edm_command", required=True)
    add = edm_commands.add_parser("add", help="register (or replace) a dataset from a CSV export")
    add.add_argument("name", help="the dataset's name, e.g. customers; the policy refers to EDM:customers")
    add.add_argument("csv", type=Path, help="a CSV export with a header row")
    add.add_argument("--columns", required=True, help="comma-separated header names to fingerprint")
    add.add_argument("--min-fields", type=int, default=2, help="values of one record that make a match (default 2)")
    add.set_defaults(run=run_add)
    listing = edm_commands.add_parser("list", help="list the registered datasets")
    listing.set_defaults(run=run_list)
    remove = edm_commands.add_parser("remove", help="remove a registered dataset")
    remove.add_argument("name")
    remove.set_defaults(run=run_remove)


def run_add(args: argparse.Namespace) -> int:
    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    try:
        text = decode(args.csv.read_bytes())
    except OSError as exc:
        raise DetourError(f"{args.csv}: can't read: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines(), **_dialect(args.csv, text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise DetourError(f"{args.csv}: no column {', '.join(missing)}; the header has: "
                          f"{', '.join(reader.fieldnames or [])}")
    settings = settings_from(args)
    key = settings.hash_key_bytes()
    try:
        fingerprints = edm.build(args.name, reader, columns, args.min_fields, edm_store.set_key(key, args.name))
    except ValueError as exc:
        raise DetourError(f"{args.csv}: {exc}") from exc
    store = _store(settings)
    edm_store.save(store, fingerprints, key)
    store.close()
    print(f"{args.name}: {fingerprints.records:,} records, columns {', '.join(columns)}, "
          f"a match needs {fingerprints.min_fields} of them; stored in the decision store as hashes keyed by "
          "DETOUR_HASH_KEY")
    print(f"Refer to it in a data class as: detectors: [{fingerprints.entity}]. Running detour serve processes "
          "find it when they start: restart them (every replica).")
    return EXIT_ALLOWED


def _store(settings: Settings) -> DecisionStore:
    return DecisionStore(store_url(settings))


def _dialect(path: Path, text: str) -> dict[str, Any]:
    """How the export's columns are separated: the sniffer's guess, else the separator its header uses most."""
    try:
        return {"dialect": csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")}
    except csv.Error:  # quoting or uneven rows the sniffer can't read: the header line tells
        header = text.split("\n", 1)[0]
        counts = {separator: header.count(separator) for separator in ",;\t|"}
        separator = max(counts, key=lambda s: counts[s])
        if not counts[separator]:
            raise DetourError(f"{path}: can't tell how its columns are separated (comma, semicolon, tab or |): "
                              "the header row has one column") from None
        return {"delimiter": separator}


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = _store(settings)
    sets = load_fingerprints(settings, store)
    store.close()
    for fingerprints in sets:
        print(f"{fingerprints.entity}: {fingerprints.records:,} records, columns {', '.join(fingerprints.columns)}")
    if not sets:
        print("no datasets registered (detour edm add NAME export.csv --columns email,phone,name)")
    return EXIT_ALLOWED


def run_remove(args: argparse.Namespace) -> int:
    store = _store(settings_from(args))
    removed = edm_store.remove(store, args.name)
    store.close()
    if not removed:
        raise DetourError(f"no dataset named {args.name}")
    print(f"{args.name}: removed (restart detour serve, every replica, to stop finding it)")
    return EXIT_ALLOWED
