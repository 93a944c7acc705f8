"""Operators' metrics, in Prometheus' text format (``GET /metrics`` and ``GET /v1/admin/metrics``, an admin
token of any role).

What is counted, and where:

- as each decision is recorded (``store.audit``): decisions by action, channel and destination category; the
  rules behind them; decisions by ``on_error`` (timeout, error, busy); what rules in monitor mode would have
  done; content that could not be checked, by reason;
- as each inspection ends (``pipeline``): its latency per channel and size class, the bytes and parts read;
- as connections open and close (the HTTP protocol, the ICAP server): open connections per channel;
- sampled (when scraped, and every ``SAMPLE_SECONDS`` in each worker process): the recorder's queue and spool,
  whether the store takes writes, failed store writes, SIEM events sent and dropped, the policy in force and
  failed reloads;
- read from the store when scraped (the same from every worker and replica): the helpdesk webhook's outbox.

``detour serve --workers N`` runs prometheus-client's multiprocess mode: each worker writes its values to
files in a folder the supervisor made (``PROMETHEUS_MULTIPROC_DIR``), and a scrape, answered by any worker,
adds up every worker's. Gauges say how: open connections and queues are summed over live workers, the store
is up when every live worker can write, a policy is in force when one live worker decides with it.

Labels are bounded: actions, channels, categories, size classes and unscannable reasons are fixed sets; rule
ids are the policy's own; SIEM targets are the configured ones. No label holds a user, a destination, a file
name or anything found. Each runtime has its own registry (several runtimes in one process, as in tests,
never mix their counts).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from detectors import entities

if TYPE_CHECKING:
    from gateway.records import Inspection

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()  # type: ignore[no-untyped-call]  # no detour_…_created series beside every counter: Prometheus does not need them
MULTIPROCESS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 5.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SIZE_CLASSES = ((100_000, "le_100k"), (1_000_000, "le_1m"), (10_000_000, "le_10m"))
UNSCANNABLE_REASONS = (  # (words in the reason, label), first match wins
    (("encrypted", "password-protected"), "encrypted"),
    (("larger than", "too large", "more than", "limit of"), "too_large"),
    (("memory",), "memory"),
    (("time", "too long"), "timeout"),
    (("too complex", "too deep", "nested"), "too_complex"),
    (("can't be read by detour", "no extractor"), "unknown_type"),
    (("damaged", "corrupt", "could not be read"), "damaged"),
)

Sampler = Callable[["Metrics"], None]


def size_class(size: int) -> str:
    return next((label for limit, label in SIZE_CLASSES if size <= limit), "over_10m")


def unscannable_reason(note: str) -> str:
    """A reason's kind, from the words Detour's extractors use (the note itself names files: never a label)."""
    lowered = note.lower()
    return next((label for words, label in UNSCANNABLE_REASONS if any(w in lowered for w in words)), "other")


def multiprocess() -> bool:
    """True in a worker of ``detour serve --workers N`` (N > 1): values are kept in the shared folder."""
    return bool(os.environ.get(MULTIPROCESS_FOLDER))


def multiprocess_metrics() -> str:
    """In the supervisor, before the workers start: a fresh folder for their values (removed when it stops)."""
    folder = tempfile.mkdtemp(prefix="detour-metrics-")
    os.environ[MULTIPROCESS_FOLDER] = folder
    return folder


def worker_ended(pid: int) -> None:
    """In the supervisor: a worker ended; its gauges stop counting (its counters still do)."""
    if multiprocess():
        mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._samplers: list[Sampler] = []
        self._global: list[Collector] = []
        self._sampling = threading.Lock()
        self._stop = threading.Event()
        registry = self.registry
        self.decisions = Counter("detour_decisions", "Decisions made, by action, channel and destination category",
                                 ["action", "channel", "destination"], registry=registry)
        self.rules = Counter("detour_rule_decisions", "Decisions each rule was a reason of, by rule and the "
                             "rule's action", ["rule", "action"], registry=registry)
        self.failures = Counter("detour_decisions_on_error", "Decisions made by the policy's on_error: an upload "
                                "that timed out, failed or found no capacity", ["what"], registry=registry)
        self.would = Counter("detour_monitor_would", "Decisions that rules in monitor mode would have made more "
                             "severe (recorded, not enforced), by what they would do and rule",
                             ["would", "rule"], registry=registry)
        self.unscannable = Counter("detour_unscannable", "Uploads with content that could not be checked, by "
                                   "reason", ["reason"], registry=registry)
        self.latency = Histogram("detour_inspection_seconds", "Time from an upload's hand-over to its decision, by "
                                 "channel and size class", ["channel", "size"], buckets=LATENCY_BUCKETS,
                                 registry=registry)
        self.bytes = Counter("detour_inspected_bytes", "Bytes of uploads inspected, by channel", ["channel"],
                             registry=registry)
        self.parts = Counter("detour_scanned_parts", "Parts read (files, archive members, pages, sheets), by "
                             "channel", ["channel"], registry=registry)
        self.connections = Gauge("detour_open_connections", "Connections open now, by channel (http, icap)",
                                 ["channel"], registry=registry, multiprocess_mode="livesum")
        self.queued = Gauge("detour_recorder_queued", "Decisions waiting in memory for the store",
                            registry=registry, multiprocess_mode="livesum")
        self.spooled = Gauge("detour_recorder_spooled", "Decisions waiting on disk while the store can't be "
                             "written", registry=registry, multiprocess_mode="livesum")
        self.store_up = Gauge("detour_store_up", "1 when the decision store takes decisions (from every worker), "
                              "0 when they wait", registry=registry, multiprocess_mode="livemin")
        self.store_failures = Counter("detour_store_write_failures", "Times the decision store refused a batch of "
                                      "decisions (they went to the spool)", registry=registry)
        self.siem_sent = Counter("detour_siem_events_sent", "Events sent to a SIEM target", ["target"],
                                 registry=registry)
        self.siem_dropped = Counter("detour_siem_events_dropped", "Events dropped: a SIEM target's queue was "
                                    "full", ["target"], registry=registry)
        self.policy = Gauge("detour_policy_loaded", "1 for the policy deciding uploads (by digest and version), 0 "
                            "for one replaced", ["digest", "version"], registry=registry,
                            multiprocess_mode="livemax")
        self.worker_starts = Counter("detour_worker_starts", "Worker processes started: one per worker when detour "
                                     "serve starts, one more each time the supervisor starts a dead one again",
                                     registry=registry)
        self.reload_errors = Counter("detour_policy_reload_errors", "Times the policy folder was found invalid or "
                                     "unreadable (the running policy stayed)", registry=registry)
        for what in ("timeout", "error", "busy"):  # fixed label sets are shown from the start, at 0
            self.failures.labels(what)
        for reason in [label for _, label in UNSCANNABLE_REASONS] + ["other"]:
            self.unscannable.labels(reason)
        for channel in ("http", "icap"):
            self.connections.labels(channel)
        self._policy: tuple[str, str] | None = None
        self._seen: dict[tuple[str, ...], float] = {}  # the last reading of each sampled running total

    # --- counted as it happens -------------------------------------------------------------------------

    def decision(self, inspection: Inspection, channel: str) -> None:
        decision = inspection.decision
        self.decisions.labels(decision.action.value, channel, decision.destination.category).inc()
        for reason in decision.reasons:
            self.rules.labels(reason.rule, reason.action.value).inc()
        if inspection.failure:
            self.failures.labels(inspection.failure).inc()
        for reason in decision.monitored:
            if reason.action.severity > decision.action.severity:
                self.would.labels(reason.action.value, reason.rule).inc()
        unscannable = next((d for d in inspection.evidence.detectors if d.entity == entities.UNSCANNABLE), None)
        if unscannable is not None:
            self.unscannable.labels(unscannable_reason(next(iter(unscannable.examples), ""))).inc()

    def inspected(self, inspection: Inspection, channel: str, seconds: float) -> None:
        size = inspection.upload.size
        self.latency.labels(channel, size_class(size)).observe(seconds)
        self.bytes.labels(channel).inc(size)
        self.parts.labels(channel).inc(inspection.evidence.parts)

    def connection(self, channel: str) -> Gauge:
        """The gauge of open connections for ``channel``: ``inc()`` when one opens, ``dec()`` when it closes."""
        return self.connections.labels(channel)

    # --- sampled -----------------------------------------------------------------------------------------

    def sample(self, sampler: Sampler) -> None:
        """``sampler(metrics)`` sets what is read rather than counted (the recorder's queue, the SIEM senders)."""
        self._samplers.append(sampler)

    def total(self, counter: Counter, reading: float, *labels: str) -> None:
        """Bring ``counter`` up to ``reading``, a running total kept elsewhere (a SIEM sender's events sent)."""
        key = (counter._name, *labels)  # noqa: SLF001 - the metric's own name, to key the last reading
        grown = reading - self._seen.get(key, 0.0)
        if grown > 0:
            (counter.labels(*labels) if labels else counter).inc(grown)
        self._seen[key] = reading

    def policy_in_force(self, digest: str, version: str) -> None:
        if self._policy == (digest, version):
            return
        if self._policy is not None:
            self.policy.labels(*self._policy).set(0)
        self.policy.labels(digest, version).set(1)
        self._policy = (digest, version)

    def refresh(self) -> None:
        with self._sampling:
            for sampler in self._samplers:
                sampler(self)

    def start_sampling(self) -> None:
        """In a worker process: sample every ``SAMPLE_SECONDS``, so a scrape answered by another worker sees
        this one's queue and spool."""
        self.refresh()  # at once: a gauge never sampled reads 0 (the store "down") to a scrape by another worker

        def run() -> None:
            while not self._stop.wait(SAMPLE_SECONDS):
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - a sampler's failure must not end the sampling
                    continue
        threading.Thread(target=run, name="metrics sampling", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    # --- read when scraped ----------------------------------------------------------------------------------

    def watch(self, collect: Callable[[], Iterator[GaugeMetricFamily]]) -> None:
        """Figures read when scraped that are the same from every worker (the store's webhook outbox)."""
        reading = _Reading(collect)
        self._global.append(reading)
        self.registry.register(reading)

    def exposition(self) -> bytes:
        self.refresh()
        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        for collector in self._global:
            registry.register(collector)
        return generate_latest(registry)


class _Reading(Collector):
    def __init__(self, collect: Callable[[], Iterator[GaugeMetricFamily]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._collect()
