"""``detour scan PATH...``: could these files leave the company? Each file goes through the pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from alternatives.catalogue import LANGUAGES
from gateway.cli.common import (
    EXIT_ALLOWED,
    EXIT_BLOCKED,
    EXIT_ERROR,
    add_policies_option,
    add_record_option,
    runtime_from,
)
from gateway.records import Action, Channel, Content, Envelope
from gateway.render.report import Report
from gateway.render.text import Printed, format_brief, format_summary, format_text


def add_commands(commands: Any) -> None:
    scan = commands.add_parser("scan", help="inspect files as uploads and print the decisions",
                               description="Could these files leave the company? Exit 0 = all allowed, "
                               "1 = at least one blocked, 2 = error.")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursively); - for stdin")
    scan.add_argument("--destination", help="where the upload goes (default: an unsanctioned external site)")
    scan.add_argument("--user")
    scan.add_argument("--group")
    add_policies_option(scan)
    add_record_option(scan)
    scan.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the answer (default: the "
                      "policy's)")
    scan.add_argument("--format", choices=("text", "json"), default="text", help="json: one object per line")
    scan.add_argument("--brief", action="store_true", help="one line per file, then a summary")
    scan.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    runtime = runtime_from(args)
    pipeline = runtime.pipeline
    status = EXIT_ALLOWED
    printed = Printed()
    reports: list[Report] = []
    try:
        for path in _expand(args.paths):
            stdin = path == Path("-")
            envelope = Envelope("stdin" if stdin else str(path), args.destination or "", args.user, args.group,
                                Channel.CLI)
            try:
                content = Content(sys.stdin.buffer.read()) if stdin else path
                report = pipeline.inspect(content, envelope, args.lang)
            except OSError as exc:
                print(f"detour: {path}: can't read: {exc.strerror or exc}", file=sys.stderr)
                status = EXIT_ERROR
                continue
            reports.append(report)
            if args.format == "json":
                print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
            elif args.brief:
                print(format_brief(report))
            else:
                print(format_text(report, printed))
            if report.decision is Action.BLOCK and status == EXIT_ALLOWED:
                status = EXIT_BLOCKED
        if args.format == "text" and (len(reports) > 1 or args.brief):
            print(format_summary(reports, args.lang or pipeline.default_language))
    finally:
        runtime.close()
    return status


def _expand(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path
