"""``detour policy check|test|schema|simulate|versions|diff``: validate the policy files, run their tests, print
their JSON Schema, replay recorded decisions against a draft, and compare policy versions."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from gateway.cli.common import (
    EXIT_ALLOWED,
    EXIT_BLOCKED,
    EXIT_ERROR,
    add_policies_option,
    add_record_option,
    runtime_from,
    settings_from,
)
from gateway.http.routes.admin import moment
from gateway.policy.diff import diff
from gateway.policy.loader import load_policy
from gateway.policy.schema import json_schema
from gateway.rollout.simulation import Simulation, simulate
from gateway.rollout.testing import run_policy_tests
from gateway.store.store import DecisionStore, store_url
from gateway.store.versions import stored_policy, versions


def add_commands(commands: Any) -> None:
    policy = commands.add_parser("policy", help="check, test and describe policy files")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate the policy files: every problem at once, then warnings")
    add_policies_option(check)
    check.add_argument("--strict", action="store_true",
                       help="fail (exit status 1) on warnings too: a rule that can never apply, a missing "
                            "translation, an alternative never offered")
    check.set_defaults(run=run_check)
    test = policy_commands.add_parser("test", help="run the policy tests (policies/tests/*_test.yaml)")
    add_policies_option(test)
    add_record_option(test)
    test.add_argument("tests", nargs="?", type=Path, help="folder of *_test.yaml files (default: POLICIES/tests)")
    test.set_defaults(run=run_test)
    schema = policy_commands.add_parser("schema", help="print the JSON Schema of the policy files")
    schema.set_defaults(run=run_schema)
    simulate = policy_commands.add_parser(
        "simulate", help="replay the recorded decisions against a draft policy and show what it would change")
    simulate.add_argument("--policies", type=Path, required=True, help="the draft policy directory")
    simulate.add_argument("--since", default="30d",
                          help="decisions from this time on: a time ago (30d, 12h) or an ISO 8601 date (default 30d)")
    simulate.add_argument("--until", help="decisions before this time (default: now)")
    simulate.add_argument("--json", action="store_true", help="print the result as JSON")
    simulate.set_defaults(run=run_simulate)
    versions = policy_commands.add_parser("versions", help="the policy versions that decided uploads (policy history)")
    versions.add_argument("--limit", type=int, default=20)
    versions.set_defaults(run=run_versions)
    compare = policy_commands.add_parser("diff", help="what changed between two policy versions")
    compare.add_argument("a", help="a policy directory, or a version's digest (`detour policy versions`)")
    compare.add_argument("b", help="a policy directory, or a version's digest")
    compare.add_argument("--files", action="store_true", help="also the files, line by line (unified diff)")
    compare.add_argument("--json", action="store_true", help="print the result as JSON")
    compare.set_defaults(run=run_diff)


def run_check(args: argparse.Namespace) -> int:
    runtime = runtime_from(args, quiet_audit=False)
    runtime.close()
    policy = runtime.policy
    document = policy.document
    warnings = policy.warnings
    print(f"{policy.directory}: valid — {len(document.destinations)} destination categories, "
          f"{len(document.data_classes)} data classes, {len(document.rules)} rules "
          f"({sum(r.mode == 'monitor' for r in document.rules)} in monitor mode), "
          f"{len(document.alternatives)} alternatives (digest {policy.digest}); "
          f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}")
    for warning in warnings:
        print(f"  warning: {warning}")
    if warnings and args.strict:
        print(f"detour: {len(warnings)} warning{'' if len(warnings) == 1 else 's'} and --strict", file=sys.stderr)
        return EXIT_BLOCKED
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


def run_simulate(args: argparse.Namespace) -> int:
    since = moment(args.since, "--since")
    until = moment(args.until, "--until")
    assert since is not None
    if until is not None and until <= since:
        print("detour: --until must be later than --since", file=sys.stderr)
        return EXIT_ERROR
    runtime = runtime_from(args, quiet_audit=True)  # the draft, loaded and checked like a policy in force
    print(f"store: {runtime.store.engine.url.render_as_string(hide_password=True)}", file=sys.stderr)
    try:
        started = time.perf_counter()
        result = simulate(runtime.store, runtime.policy, since, until, who_of=runtime.pipeline.who_of,
                          max_upload_bytes=runtime.settings.max_upload_bytes)
        seconds = time.perf_counter() - started
    finally:
        runtime.close()
    if args.json:
        print(json.dumps({**result.as_json(), "seconds": round(seconds, 3)}, indent=2, ensure_ascii=False))
        return EXIT_ALLOWED
    for line in simulation_lines(result):
        print(line)
    print(f"(replayed in {seconds:.1f} s)")
    return EXIT_ALLOWED


def simulation_lines(result: Simulation) -> list[str]:
    """A simulation's result as text."""
    period = f"since {result.since:%Y-%m-%d %H:%M}" + (f" until {result.until:%Y-%m-%d %H:%M}" if result.until else "")
    lines = [f"Draft {result.draft} replayed on {_n(result.replayed, 'recorded decision')} {period} UTC: "
             f"{result.changed} would change."]
    if not result.replayed:
        lines.append("  (no decision recorded in this period, in this store: check --since and DETOUR_DATA_DIR or "
                     "DETOUR_DATABASE_URL)")
    if result.truncated:
        lines.append(f"  (only the newest decisions were replayed, {result.truncated}: narrow the period for the rest)")
    actions = ("allow", "warn", "block")
    lines.append("  decided then:       " + ", ".join(f"{a} {result.before.get(a, 0)}" for a in actions))
    lines.append("  under the draft:    " + ", ".join(f"{a} {result.after.get(a, 0)}" for a in actions))
    if result.would_before or result.would_after:
        lines.append("  monitor mode, then: " + ", ".join(f"would {a} {result.would_before.get(a, 0)}"
                                                          for a in ("warn", "block")))
        lines.append("  monitor mode, now:  " + ", ".join(f"would {a} {result.would_after.get(a, 0)}"
                                                          for a in ("warn", "block")))
    if result.transitions:
        lines.append("What changes:")
        for change, count in result.transitions.most_common():
            lines.append(f"  {change}: {count}  e.g. {', '.join(result.examples.get(change, []))}")
        lines.append("By rule (of the changed decisions):")
        for rule in sorted(set(result.rules_before) | set(result.rules_after)):
            then, now = result.rules_before.get(rule, 0), result.rules_after.get(rule, 0)
            lines.append(f"  {rule}: decided {then} then, {now} under the draft")
        if result.monitored_before or result.monitored_after:
            lines.append("Rules in monitor mode (decisions they would have made more severe):")
            for rule in sorted(set(result.monitored_before) | set(result.monitored_after)):
                then, now = result.monitored_before.get(rule, 0), result.monitored_after.get(rule, 0)
                lines.append(f"  {rule}: {then} then, {now} under the draft")
        lines.append("By destination:")
        lines.extend(f"  {host}: {count}" for host, count in result.destinations.most_common(10))
    if result.uncertain:
        lines.append(f"Note: {_n(result.uncertain, 'decision')} replayed on what was known then, where the draft "
                     "would read more of the upload, read it under other limits, or match a masked group: under "
                     "the draft they may be decided otherwise.")
    if result.vanished:
        lines.append(f"Note: {_n(result.vanished, 'decision')} purged (retention) while the replay ran.")
    if result.not_replayable:
        lines.append(f"Note: {_n(result.not_replayable, 'decision')} recorded before Detour kept what a replay "
                     "needs.")
    return lines


def _n(count: int, thing: str) -> str:
    return f"{count} {thing}" if count == 1 else f"{count} {thing}s"


def run_versions(args: argparse.Namespace) -> int:
    store = _store()
    try:
        listed = versions(store, args.limit)
    finally:
        store.close()
    if not listed:
        print("no policy versions recorded yet (`detour serve` records each policy it loads)")
    for entry in listed:
        print(f"{entry['digest']}  {entry['name']} {entry['version']}  last loaded {entry['last_loaded'][:19]} "
              f"({entry['how']}); first {entry['first_loaded'][:19]}")
    return EXIT_ALLOWED


def run_diff(args: argparse.Namespace) -> int:
    store: DecisionStore | None = None
    try:
        policies = []
        for given in (args.a, args.b):
            if Path(given).is_dir():
                policies.append(load_policy(Path(given)))
            elif "/" in given or given.startswith("."):
                print(f"detour: {given} is not a folder (a policy folder, or a version's digest)", file=sys.stderr)
                return EXIT_ERROR
            else:
                store = store or _store()
                policies.append(stored_policy(store, given))
    finally:
        if store is not None:
            store.close()
    compared = diff(*policies)
    if args.json:
        print(json.dumps(compared.as_json(), indent=2, ensure_ascii=False))
        return EXIT_ALLOWED
    print(f"{compared.a} → {compared.b}")
    for line in compared.lines():
        print(line)
    if args.files:
        for text in compared.files.values():
            print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_ALLOWED if compared.same else EXIT_BLOCKED


def _store() -> DecisionStore:
    settings = settings_from(argparse.Namespace())
    return DecisionStore(store_url(settings))
