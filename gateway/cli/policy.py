"""``detour policy check|test|schema``: validate the policy files, run their tests, print their JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alternatives.catalogue import LANGUAGES
from gateway.cli.common import (
    EXIT_ALLOWED,
    EXIT_ERROR,
    add_policies_option,
    add_record_option,
    runtime_from,
    settings_from,
)
from gateway.policy.schema import json_schema
from gateway.rollout.testing import run_policy_tests


def add_commands(commands: Any) -> None:
    policy = commands.add_parser("policy", help="check, test and describe policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate the policy files")
    add_policies_option(check)
    check.set_defaults(run=run_check)
    test = policy_commands.add_parser("test", help="run the policy tests (policies/tests/*_test.yaml)")
    add_policies_option(test)
    add_record_option(test)
    test.add_argument("tests", nargs="?", type=Path, help="folder of *_test.yaml files (default: POLICIES/tests)")
    test.set_defaults(run=run_test)
    schema = policy_commands.add_parser("schema", help="print the JSON Schema of the policy files")
    schema.set_defaults(run=run_schema)


def run_check(args: argparse.Namespace) -> int:
    runtime = runtime_from(args, quiet_audit=False)
    runtime.close()
    policy = runtime.policy
    document = policy.document
    print(f"{policy.directory}: OK — {len(document.destinations)} destination categories, "
          f"{len(document.data_classes)} data classes, {len(document.rules)} rules, "
          f"{len(document.alternatives)} alternatives (digest {policy.digest})")
    for alternative in document.alternatives:
        missing = [lang for lang in LANGUAGES if lang not in alternative.texts]
        if missing:
            print(f"  note: alternative {alternative.id} has no text in {', '.join(missing)}; English is shown")
    return EXIT_ALLOWED


def run_test(args: argparse.Namespace) -> int:
    runtime = runtime_from(args, quiet_audit=False)
    folder = args.tests or settings_from(args).policies_dir / "tests"
    try:
        results = run_policy_tests(runtime.pipeline, folder)
    finally:
        runtime.close()
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


def run_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_ALLOWED
