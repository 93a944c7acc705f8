"""SIEM export: decision and admin events as syslog (RFC 5424) over UDP, TCP or TLS, in CEF or as OCSF JSON.

``DETOUR_SYSLOG`` lists the targets, comma-separated: ``udp://siem.corp:514``, ``tcp://siem.corp:601?format=ocsf``,
``tls://siem.corp:6514?format=cef`` (``format``: ``cef``, the default, or ``ocsf``). TLS checks the receiver's
certificate against the system's CAs or ``DETOUR_SYSLOG_CA``. TCP and TLS frame each message by octet counting
(RFC 6587); UDP sends one datagram per message (RFC 5426), cut at ``MAX_DATAGRAM`` bytes.

Events are built from the audit record (``store.audit``), which carries masked examples and keyed hashes only,
and they carry less still: counts, never examples. Each target has its own sender thread and a bounded queue:
an upload never waits for a SIEM. A target that is down is retried with a growing pause (up to
``MAX_BACKOFF_SECONDS``); while it is down, events queue up to ``MAX_QUEUED`` and the newest beyond that are
dropped, counted and logged. The JSON Lines audit log keeps every decision regardless.

CEF: ArcSight Common Event Format, version 0. OCSF: Data Security Finding (class 2006) for decisions, API
Activity (class 6003) for admin events, schema 1.4.0.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gateway.settings import SyslogTarget, syslog_targets, valid_address

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000  # events waiting per target; beyond, the newest are dropped (and counted)
MAX_DATAGRAM = 8192  # bytes of one UDP message (rsyslog's default maximum)
CONNECT_SECONDS = 5.0  # connecting (and the TLS handshake) to a target
SEND_SECONDS = 5.0  # one send to a target
MAX_BACKOFF_SECONDS = 30.0  # the longest pause between attempts to reach a target that is down
CLOSE_SECONDS = 5.0  # how long closing waits for queued events to go out
VERSION = "0.1.0"
OCSF_VERSION = "1.4.0"
FACILITY_LOCAL0 = 16

Kind = Literal["decision", "admin"]


# --- the formats --------------------------------------------------------------------------------------------

_ACTION_SEVERITY = {"block": 7, "warn": 4, "allow": 1}  # CEF 0-10
_SYSLOG_SEVERITY = {"block": 4, "warn": 5, "allow": 6}  # RFC 5424: warning, notice, informational
_VERBS = {"block": "blocked", "warn": "warned", "allow": "allowed"}
_OCSF_SEVERITY = {"block": (4, "High"), "warn": (3, "Medium"), "allow": (1, "Informational")}


def _cef_header(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(text: object) -> str:
    return (str(text).replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n"))


def _cef(signature: str, name: str, severity: int, extension: dict[str, object]) -> str:
    present = {key: value for key, value in extension.items() if value is not None and value != ""}
    # a custom field's label goes only with its value (cs1Label without cs1 says nothing)
    present = {key: value for key, value in present.items()
               if not (key.endswith("Label") and key.removesuffix("Label") not in present)}
    fields = " ".join(f"{key}={_cef_value(value)}" for key, value in present.items())
    return (f"CEF:0|Detour|Detour DLP gateway|{VERSION}|{_cef_header(signature)}|{_cef_header(name)}|{severity}|"
            f"{fields}")


def _millis(entry: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(entry["time"]).timestamp() * 1000)


def _classes(entry: dict[str, Any]) -> str:
    return ", ".join(f"{name}: {numbers['count']} ({_people(numbers['people'])})" if numbers.get("people")
                     else f"{name}: {numbers['count']}" for name, numbers in entry.get("data_classes", {}).items())


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def decision_cef(entry: dict[str, Any]) -> str:
    action, would = entry["decision"], entry.get("would")
    severity = _ACTION_SEVERITY[action] if not would else max(_ACTION_SEVERITY[action], 3)
    return _cef(f"decision:{action}", f"Upload {_VERBS[action]}", severity, {
        "rt": _millis(entry),
        "act": action,
        "externalId": entry["decision_id"],
        "suser": entry.get("user"),
        "src": valid_address(entry.get("client_ip")),
        "dhost": entry.get("destination_host"),
        "request": entry.get("destination"),
        "cat": entry.get("destination_category"),
        "fname": entry.get("file"),
        "fsize": entry.get("size"),
        "fileHash": entry.get("sha256"),
        "fileType": entry.get("file_type"),
        "msg": f"{', '.join(entry.get('rules', [])) or 'no rule'}; {_classes(entry) or 'nothing found'}",
        "cs1Label": "group", "cs1": entry.get("group"),
        "cs2Label": "rules", "cs2": ",".join(entry.get("rules", [])),
        "cs3Label": "dataClasses", "cs3": ",".join(entry.get("data_classes", {})),
        "cs4Label": "policy", "cs4": entry.get("policy"),
        "cs5Label": "monitorWould", "cs5": would,
        "cs6Label": "channel", "cs6": entry.get("channel"),
    })


def admin_cef(entry: dict[str, Any]) -> str:
    return _cef(f"admin:{entry['action']}", f"Admin {entry['action']}", 3, {
        "rt": _millis(entry),
        "act": entry["action"],
        "suser": entry.get("actor"),
        "src": valid_address(entry.get("client_ip")),
        "cs1Label": "role", "cs1": entry.get("role"),
        "cs2Label": "target", "cs2": entry.get("target"),
    })


def _product() -> dict[str, Any]:
    return {"version": OCSF_VERSION, "product": {"name": "Detour", "vendor_name": "Detour", "version": VERSION}}


def decision_ocsf(entry: dict[str, Any]) -> str:
    action = entry["decision"]
    severity_id, severity = _OCSF_SEVERITY[action]
    blocked = action == "block"
    event: dict[str, Any] = {
        "class_uid": 2006, "class_name": "Data Security Finding", "category_uid": 2, "category_name": "Findings",
        "activity_id": 1, "activity_name": "Create", "type_uid": 200601, "type_name": "Data Security Finding: Create",
        "time": _millis(entry), "severity_id": severity_id, "severity": severity,
        "action_id": 2 if blocked else 1, "action": "Denied" if blocked else "Allowed",
        "disposition_id": 2 if blocked else (1 if action == "allow" else 99),
        "disposition": {"block": "Blocked", "allow": "Allowed"}.get(action, "Warned"),
        "status_id": 1, "status": "New",
        "message": f"Upload {_VERBS[action]}: {', '.join(entry.get('rules', [])) or 'no rule'}",
        "metadata": {**_product(), "uid": entry["decision_id"], "log_name": "decisions"},
        "finding_info": {"uid": entry["decision_id"], "created_time": _millis(entry),
                         "title": f"Upload to {entry.get('destination_host')} {_VERBS[action]}",
                         "types": list(entry.get("data_classes", {}))},
        "actor": {"user": {"name": entry.get("user"),
                           "groups": [{"name": entry["group"]}] if entry.get("group") else []}},
        "src_endpoint": {"ip": valid_address(entry.get("client_ip"))},
        "dst_endpoint": {"hostname": entry.get("destination_host")},
        "file": {"name": entry.get("file"), "size": entry.get("size"), "mime_type": entry.get("file_type"),
                 "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": entry.get("sha256")}]},
        "data_security": {"data_lifecycle_state_id": 2, "data_lifecycle_state": "Data in-Transit",
                          "detection_system_id": 2, "detection_system": "Data Loss Prevention Gateway",
                          "detection_pattern": ", ".join(entry.get("rules", [])),
                          "policy": {"uid": entry.get("policy"), "name": "Detour policy"}},
        "unmapped": {"channel": entry.get("channel"), "destination_category": entry.get("destination_category"),
                     "rules": entry.get("rules", []), "data_classes": entry.get("data_classes", {}),
                     "alternatives": entry.get("alternatives", []), "monitor_would": entry.get("would"),
                     "monitored_rules": entry.get("monitored_rules", []), "partial": entry.get("partial")},
    }
    return json.dumps(_pruned(event), ensure_ascii=False, separators=(",", ":"))


_API_ACTIVITY = {"create": (1, "Create"), "read": (2, "Read"), "update": (3, "Update"), "delete": (4, "Delete")}


def _activity(action: str) -> tuple[int, str]:
    verb = action.rsplit(".", 1)[-1]
    if verb in ("list", "view", "export", "detail", "versions", "diff", "whoami", "figures"):
        return _API_ACTIVITY["read"]
    if verb in ("revoke",):
        return _API_ACTIVITY["delete"]
    if verb in ("approve", "decline", "confirm", "reject", "extend", "assign", "comment", "reload", "sign_in",
                "sign_out"):
        return _API_ACTIVITY["update"]
    return 99, "Other"


def admin_ocsf(entry: dict[str, Any]) -> str:
    activity_id, activity = _activity(entry["action"])
    event = {
        "class_uid": 6003, "class_name": "API Activity", "category_uid": 6, "category_name": "Application Activity",
        "activity_id": activity_id, "activity_name": activity, "type_uid": 600300 + activity_id,
        "time": _millis(entry), "severity_id": 1, "severity": "Informational", "status_id": 1, "status": "Success",
        "metadata": {**_product(), "log_name": "admin_actions"},
        "actor": {"user": {"name": entry.get("actor")}},
        "api": {"operation": entry["action"], "service": {"name": "Detour admin"}},
        "src_endpoint": {"ip": valid_address(entry.get("client_ip"))},
        "resources": [{"uid": entry["target"]}] if entry.get("target") else [],
        "unmapped": {"role": entry.get("role")},
    }
    return json.dumps(_pruned(event), ensure_ascii=False, separators=(",", ":"))


def _pruned(value: Any) -> Any:
    """The event without empty fields (OCSF leaves out what is not known)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


FORMATTERS = {("cef", "decision"): decision_cef, ("cef", "admin"): admin_cef,
              ("ocsf", "decision"): decision_ocsf, ("ocsf", "admin"): admin_ocsf}


def rfc5424(kind: Kind, entry: dict[str, Any], body: str, hostname: str, facility: int) -> str:
    severity = _SYSLOG_SEVERITY[entry["decision"]] if kind == "decision" else 5
    stamp = datetime.fromisoformat(entry["time"]).astimezone(UTC).isoformat(timespec="milliseconds")
    header = f"<{facility * 8 + severity}>1 {stamp.replace('+00:00', 'Z')} {hostname} detour {os.getpid()} {kind} -"
    return f"{header} {body}"


# --- sending ------------------------------------------------------------------------------------------------


class Sender:
    """One target: a thread that formats and sends what is queued, reconnecting when the target is down."""

    def __init__(self, target: SyslogTarget, hostname: str, facility: int, ca_file: Path | None) -> None:
        self.target, self.hostname, self.facility = target, hostname, facility
        self.sent = self.dropped = self.connections = 0
        self._queue: queue.Queue[tuple[Kind, dict[str, Any]] | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._socket: socket.socket | None = None
        self._context: ssl.SSLContext | None = None
        if target.transport == "tls":
            self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._run, name=f"syslog {target}", daemon=True)
        self._thread.start()

    def put(self, kind: Kind, entry: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait((kind, entry))
        except queue.Full:
            self.dropped += 1
            self._warn(f"syslog {self.target}: {MAX_QUEUED} events wait; newer ones are dropped "
                       f"({self.dropped} so far); the audit log keeps every decision")

    def close(self, seconds: float = CLOSE_SECONDS) -> None:
        try:
            self._queue.put(None, timeout=seconds)
        except queue.Full:
            pass
        self._thread.join(timeout=seconds)
        self._disconnect()

    def _run(self) -> None:
        pause = 1.0
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, entry = item
            try:
                message = rfc5424(kind, entry, FORMATTERS[(self.target.format, kind)](entry), self.hostname,
                                  self.facility)
            except Exception:  # an entry this version can't format: one event lost, never the thread
                log.exception("syslog %s: an event could not be formatted", self.target)
                continue
            while True:
                try:
                    self._send(message.encode("utf-8"))
                    self.sent += 1
                    pause = 1.0
                    break
                except OSError as problem:
                    self._disconnect()
                    self._warn(f"syslog {self.target} can't be reached ({problem.strerror or problem}); trying "
                               f"again in {pause:.0f} s, events wait (up to {MAX_QUEUED})")
                    time.sleep(pause)
                    pause = min(pause * 2, MAX_BACKOFF_SECONDS)
                    if self._closing():
                        return

    def _closing(self) -> bool:
        """Whether close() asked to stop while the target was down (what waits is given up)."""
        with self._queue.mutex:
            return bool(self._queue.queue) and self._queue.queue[-1] is None

    def _send(self, payload: bytes) -> None:
        target = self.target
        if target.transport == "udp":
            with socket.socket(socket.AF_INET6 if ":" in target.host else socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(payload[:MAX_DATAGRAM], (target.host, target.port))
            return
        if self._socket is not None and _closed_by_peer(self._socket):
            self._disconnect()  # the receiver went away (a restart): a send would vanish into the dead connection
        if self._socket is None:
            raw = socket.create_connection((target.host, target.port), timeout=CONNECT_SECONDS)
            if self._context is not None:
                try:
                    raw = self._context.wrap_socket(raw, server_hostname=target.host)
                except (OSError, ssl.SSLError):
                    raw.close()
                    raise
            raw.settimeout(SEND_SECONDS)
            self._socket = raw
            self.connections += 1
        self._socket.sendall(str(len(payload)).encode() + b" " + payload)  # RFC 6587 octet counting

    def _disconnect(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 60:  # once a minute at most: a SIEM that is down must not flood the log
            self._last_warning = now
            log.warning(message)


def _closed_by_peer(connection: socket.socket) -> bool:
    """Whether the receiver closed the connection, checked before each send without waiting. A syslog receiver
    sends no data; what there is to read is the end of the stream or a reset (closed), or TLS records such as
    TLS 1.3 session tickets (consumed: still open)."""
    poller = select.poll()  # not select(): it fails for descriptors from 1024 on, as a busy gateway has
    try:
        poller.register(connection, select.POLLIN | select.POLLERR | select.POLLHUP)
        events = poller.poll(0)
    except (OSError, ValueError):
        return True
    if not events:
        return False
    if events[0][1] & (select.POLLERR | select.POLLNVAL):
        return True
    connection.setblocking(False)
    try:
        if isinstance(connection, ssl.SSLSocket):
            return connection.recv(1) == b""  # handles TLS records; b"": the receiver closed
        return connection.recv(1, socket.MSG_PEEK) == b""
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return False  # only TLS records (session tickets), no data: still open
    except OSError:
        return True
    finally:
        connection.settimeout(SEND_SECONDS)


class Siem:
    """Every configured target; ``decision`` and ``admin`` hand an event to each (never blocking)."""

    def __init__(self, listing: str, ca_file: Path | None = None, hostname: str | None = None,
                 facility: int = FACILITY_LOCAL0) -> None:
        name = "".join(c for c in (hostname or socket.gethostname()) if 33 <= ord(c) <= 126)[:255] or "-"
        self.senders = [Sender(target, name, facility, ca_file) for target in syslog_targets(listing)]

    def decision(self, entry: dict[str, Any]) -> None:
        for sender in self.senders:
            sender.put("decision", entry)

    def admin(self, entry: dict[str, Any]) -> None:
        for sender in self.senders:
            sender.put("admin", entry)

    def close(self) -> None:
        for sender in self.senders:
            sender.close()
