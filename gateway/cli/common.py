"""What the command groups share: exit codes, settings from the command line, the runtime."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.versions import record_version

EXIT_ALLOWED, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2


class OneLine(logging.Filter):
    """A log message is one line: control characters a client slipped into a name or path are shown
    escaped, so nobody can forge a log line (an audit line, say). Tracebacks are added after, as usual."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isprintable():
            record.msg = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
            record.args = None
        return True


def add_policies_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--policies", type=Path, help="policy directory (default: the bundled policies)")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "policies", None) is not None:
        overrides["policies_dir"] = args.policies
    return Settings(**overrides)


def add_record_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--record", action="store_true",
                         help="keep these decisions in the decision store (default: they are not kept; the store "
                              "is what IT's console and statistics read)")


def runtime_from(args: argparse.Namespace, quiet_audit: bool = True) -> Runtime:
    """The runtime for a one-shot command; its audit lines go to the log only when DETOUR_AUDIT_LOG says so. Its
    decisions are kept in the store, and sent to the SIEM, only with ``--record``: a test run or a scan is no
    traffic."""
    settings = settings_from(args)
    if quiet_audit and not settings.audit_log:
        logging.getLogger("detour.audit").setLevel(logging.WARNING)
    keep = bool(getattr(args, "record", False))
    if not keep:  # nor do they go to the SIEM
        settings = settings.model_copy(update={"syslog": ""})
    runtime = Runtime.build(settings)
    runtime.recorder.keep = keep
    if keep:  # its decisions name their policy version: keep that version too (the policy history)
        record_version(runtime.store, runtime.policy, "a one-shot command (--record)")
    return runtime
