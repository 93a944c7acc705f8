"""``detour eval FOLDER``: accuracy on a labelled corpus (``labels.json``): confusion matrix and mismatches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli.common import EXIT_ALLOWED, EXIT_BLOCKED, add_policies_option, add_record_option, runtime_from
from gateway.rollout.evaluation import evaluate


def add_commands(commands: Any) -> None:
    command = commands.add_parser("eval", help="measure accuracy on a labelled corpus (labels.json)",
                                  description="Exit 0 when every file gets its labelled decision, 1 otherwise.")
    command.add_argument("folder", type=Path, help="a folder with files and labels.json")
    command.add_argument("--destination", help="where the uploads go (default: an unsanctioned external site)")
    add_policies_option(command)
    add_record_option(command)
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from(args)
    try:
        result = evaluate(runtime.pipeline, args.folder, args.destination or "")
    finally:
        runtime.close()
    total = len(result.cases)
    print(f"{args.folder}: {total - len(result.mismatches)}/{total} files get their labelled decision")
    print()
    print("                 got block   got warn  got allow")
    for expected in ("block", "allow"):
        counts = [result.count(expected, got) for got in ("block", "warn", "allow")]
        print(f"  expect {expected:<6} {counts[0]:>10} {counts[1]:>10} {counts[2]:>10}")
    print()
    print(f"recall on block files:      {result.recall:6.1%}")
    print(f"false-block rate on allow:  {result.false_block_rate:6.1%}")
    for case in result.mismatches:
        reasons = "; ".join(f"{r.rule}: {r.message}" for r in case.report.reasons) or "no rule applied"
        found = ", ".join(f"{f.type} ×{f.count}" for f in case.report.findings) or "nothing found"
        print(f"\nMISMATCH {case.file}: expected {case.expected} ({case.why}), got {case.got}")
        print(f"  found: {found}")
        print(f"  why:   {reasons}")
    return EXIT_ALLOWED if not result.mismatches else EXIT_BLOCKED
