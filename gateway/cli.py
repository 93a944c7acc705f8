"""The ``detour`` command: scan files, serve the gateway, check and test policies.

Exit status of ``detour scan`` follows clamscan: 0 everything allowed, 1 at least
one upload blocked, 2 an error (unreadable file, invalid policy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from alternatives.catalogue import LANGUAGES, Language
from gateway.errors import DetourError, PolicyError
from gateway.i18n import N_, translator
from gateway.pipeline import Pipeline, UploadRequest
from gateway.policy.schema import Action
from gateway.report import Report
from gateway.settings import Settings

EXIT_ALLOWED, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
        return code
    except PolicyError as exc:
        print(f"detour: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except DetourError as exc:
        print(f"detour: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `detour … | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detour", description="Detour data-loss-prevention upload gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    scan = commands.add_parser("scan", help="inspect files as uploads and print the decisions",
                               description="Could these files leave the company? Exit 0 = all allowed, "
                               "1 = at least one blocked, 2 = error.")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursively); - for stdin")
    scan.add_argument("--destination", help="where the upload goes (default: an unsanctioned external site)")
    scan.add_argument("--user")
    scan.add_argument("--group")
    scan.add_argument("--policies", type=Path, help="policy directory (default: the bundled policies)")
    scan.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the answer")
    scan.add_argument("--format", choices=("text", "json"), default="text", help="json: one object per line")
    scan.set_defaults(run=_scan)

    evaluate = commands.add_parser("eval", help="measure accuracy on a labelled corpus (labels.json)",
                                   description="Exit 0 when every file gets its labelled decision, 1 otherwise.")
    evaluate.add_argument("folder", type=Path, help="a folder with files and labels.json")
    evaluate.add_argument("--destination", help="where the uploads go (default: an unsanctioned external site)")
    evaluate.add_argument("--policies", type=Path)
    evaluate.set_defaults(run=_eval)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--icap-port", type=int, default=None,
                       help="ICAP port for proxies (default 1344, DETOUR_ICAP_PORT; 0: no ICAP)")
    serve.add_argument("--policies", type=Path)
    serve.set_defaults(run=_serve)

    edm = commands.add_parser("edm", help="exact data match: register exports of datasets as salted hashes")
    edm_commands = edm.add_subparsers(dest="edm_command", required=True)
    add = edm_commands.add_parser("add", help="register (or replace) a dataset from a CSV export")
    add.add_argument("name", help="the dataset's name, e.g. customers; the policy refers to EDM:customers")
    add.add_argument("csv", type=Path, help="a CSV export with a header row")
    add.add_argument("--columns", required=True, help="comma-separated header names to fingerprint")
    add.add_argument("--min-fields", type=int, default=2, help="values of one record that make a match (default 2)")
    add.set_defaults(run=_edm_add)
    listing = edm_commands.add_parser("list", help="list the registered datasets")
    listing.set_defaults(run=_edm_list)
    remove = edm_commands.add_parser("remove", help="remove a registered dataset")
    remove.add_argument("name")
    remove.set_defaults(run=_edm_remove)

    policy = commands.add_parser("policy", help="check, test and describe policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate the policy files")
    check.add_argument("--policies", type=Path)
    check.set_defaults(run=_policy_check)
    test = policy_commands.add_parser("test", help="run the policy tests (policies/tests/*_test.yaml)")
    test.add_argument("--policies", type=Path)
    test.add_argument("tests", nargs="?", type=Path, help="folder of *_test.yaml files (default: POLICIES/tests)")
    test.set_defaults(run=_policy_test)
    schema = policy_commands.add_parser("schema", help="print the JSON Schema of the policy files")
    schema.set_defaults(run=_policy_schema)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "policies", None) is not None:
        overrides["policies_dir"] = args.policies
    return Settings(**overrides)


# --- scan ---------------------------------------------------------------------------------


def _scan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    pipeline = Pipeline.from_settings(settings)
    language: Language = args.lang or pipeline.default_language
    if not settings.audit_log:
        logging.getLogger("detour.audit").setLevel(logging.WARNING)
    status = EXIT_ALLOWED
    for path in _expand(args.paths):
        name = "stdin" if path == Path("-") else str(path)
        request = UploadRequest(name, args.destination or "", args.user, args.group, channel="cli")
        try:
            if path == Path("-"):
                report = pipeline.inspect(sys.stdin.buffer.read(), request, language)
            else:
                report = pipeline.inspect_file(path, request, language)
        except OSError as exc:
            print(f"detour: {path}: can't read: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        if args.format == "json":
            print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
        else:
            print(format_text(report))
        if report.decision is Action.BLOCK and status == EXIT_ALLOWED:
            status = EXIT_BLOCKED
    return status


def _expand(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


DECISION_LABELS = {"allow": N_("ALLOWED"), "warn": N_("WARNING"), "block": N_("BLOCKED")}


def format_text(report: Report) -> str:
    """The answer for people: decision, why, what to do instead."""
    _ = translator(report.language)
    reference, why, found, instead = _("Reference"), _("Why"), _("Found"), _("What you can do instead")
    destination = report.destination
    lines = [f"{report.file}: {_(DECISION_LABELS[report.decision.value])}   {reference}: {report.decision_id}",
             "  " + _("Destination") + f": {destination.host or destination.url} ({destination.category_title})"]
    if report.reasons:
        lines.append(f"  {why}:")
        lines.extend(_wrap(f"- {reason.message}", "    ", "      ") for reason in report.reasons)
    if report.data_classes:
        lines.append(f"  {found}:")
        examples = {f.type: f.examples for f in report.findings}
        for data_class in report.data_classes:
            lines.append(_wrap(f"- {data_class.description}", "    ", "      "))
        for finding_type, shown in examples.items():
            lines.append(_wrap(f"{finding_type}: {', '.join(shown)}", "      ", "        "))
    elif report.decision is Action.ALLOW:
        lines.append("  " + _("Nothing sensitive was found for this destination."))
    if report.scan.partial:
        lines.append(_wrap(_("Detour stopped checking once this was clear; the file may contain more."), "  ", "  "))
    if report.alternatives:
        lines.append(f"  {instead}:")
        for offer in report.alternatives:
            lines.append(f"    {offer.rank}. {offer.title} — {offer.url}")
            lines.extend(_wrap(f"{step}", "       · ", "         ") for step in offer.instructions)
    if report.decision is not Action.ALLOW:
        lines.append("  " + _("Message from the helpdesk") + ":")
        lines.append(_wrap(report.helpdesk.message, "    ", "    "))
    return "\n".join(lines) + "\n"


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)


# --- eval ---------------------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from gateway.evaluation import evaluate

    pipeline = Pipeline.from_settings(_settings(args))
    if not pipeline.settings.audit_log:
        logging.getLogger("detour.audit").setLevel(logging.WARNING)
    result = evaluate(pipeline, args.folder, args.destination or "")
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


# --- edm ----------------------------------------------------------------------------------


def _edm_add(args: argparse.Namespace) -> int:
    import csv

    from detectors import edm
    from detectors.extract.text import decode
    from gateway.pipeline import edm_folder

    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    try:
        text = decode(args.csv.read_bytes())
    except OSError as exc:
        raise DetourError(f"{args.csv}: can't read: {exc.strerror or exc}") from exc
    dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise DetourError(f"{args.csv}: no column {', '.join(missing)}; the header has: "
                          f"{', '.join(reader.fieldnames or [])}")
    try:
        fingerprints = edm.build(args.name, reader, columns, args.min_fields)
    except ValueError as exc:
        raise DetourError(f"{args.csv}: {exc}") from exc
    path = edm_folder(_settings(args)) / f"{args.name}.json"
    fingerprints.save(path)
    print(f"{args.name}: {fingerprints.records:,} records, columns {', '.join(columns)}, "
          f"a match needs {fingerprints.min_fields} of them; stored as salted hashes in {path}")
    print(f"Refer to it in a data class as: detectors: [{fingerprints.entity}]")
    return EXIT_ALLOWED


def _edm_list(args: argparse.Namespace) -> int:
    from gateway.pipeline import load_fingerprints

    sets = load_fingerprints(_settings(args))
    for fingerprints in sets:
        print(f"{fingerprints.entity}: {fingerprints.records:,} records, columns {', '.join(fingerprints.columns)}")
    if not sets:
        print("no datasets registered (detour edm add NAME export.csv --columns email,phone,name)")
    return EXIT_ALLOWED


def _edm_remove(args: argparse.Namespace) -> int:
    from gateway.pipeline import edm_folder

    path = edm_folder(_settings(args)) / f"{args.name}.json"
    if not path.is_file():
        raise DetourError(f"no dataset named {args.name}")
    path.unlink()
    print(f"{args.name}: removed")
    return EXIT_ALLOWED


# --- serve --------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    logging.getLogger().setLevel(settings.log_level)
    logging.getLogger("detour").setLevel(settings.log_level)
    app = create_app(settings)  # refuses to start with an invalid policy
    from detectors.isolation import warm_up

    warm_up()
    policy = app.state.pipeline.policy
    print(f"detour: policy {policy.document.policy.name} {policy.document.policy.version} "
          f"({', '.join(policy.files)} in {policy.directory}) loaded", file=sys.stderr)
    icap_port = settings.icap_port if args.icap_port is None else args.icap_port
    print(f"detour: serving on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower()))

    async def both() -> None:
        if icap_port:
            from gateway.icap import IcapConfig, IcapServer

            icap = IcapServer(app.state.pipeline, IcapConfig(settings.icap_user_header, settings.icap_user_base64,
                                                             settings.upload_seconds + 30, settings.public_url))
            listener = await icap.start(host, icap_port)
            print(f"detour: ICAP on icap://{host}:{icap_port}/reqmod (ISTag {icap.istag})", file=sys.stderr)
            async with listener:
                await server.serve()
        else:
            await server.serve()

    asyncio.run(both())
    return EXIT_ALLOWED


# --- policy -------------------------------------------------------------------------------


def _policy_check(args: argparse.Namespace) -> int:
    pipeline = Pipeline.from_settings(_settings(args))
    policy = pipeline.policy
    document = policy.document
    print(f"{policy.directory}: OK — {len(document.destinations)} destination categories, "
          f"{len(document.data_classes)} data classes, {len(document.rules)} rules, "
          f"{len(document.alternatives)} alternatives (digest {policy.digest})")
    for alternative in document.alternatives:
        missing = [lang for lang in LANGUAGES if lang not in alternative.texts]
        if missing:
            print(f"  note: alternative {alternative.id} has no text in {', '.join(missing)}; English is shown")
    return EXIT_ALLOWED


def _policy_test(args: argparse.Namespace) -> int:
    from gateway.policy.testing import run_policy_tests

    settings = _settings(args)
    pipeline = Pipeline.from_settings(settings)
    folder = args.tests or settings.policies_dir / "tests"
    results = run_policy_tests(pipeline, folder)
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'} {result.file}: {result.name}")
        for problem in result.problems:
            print(f"     {problem}")
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    if not results:
        print(f"detour: no policy tests found in {folder} (*_test.yaml)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR if failed else EXIT_ALLOWED


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of the policy files (published as policies/policy.schema.json)."""
    from gateway.policy.schema import PolicyDocument

    schema = PolicyDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Detour policy"
    schema["description"] = ("One file of a Detour policy directory. Sections may be spread over files, "
                             "so none is required in a single file; `detour policy check` checks the whole.")
    schema.pop("required", None)
    return schema


def _policy_schema(args: argparse.Namespace) -> int:
    print(json.dumps(policy_schema(), indent=2, ensure_ascii=False))
    return EXIT_ALLOWED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
