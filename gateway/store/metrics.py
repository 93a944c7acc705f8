"""Operators' metrics, in Prometheus' text format (``GET /v1/admin/metrics``, an admin token of any role).

Counted as each decision is recorded (``store.audit``): decisions by action and channel, decisions by
``on_error`` (timeout, error, busy), and what rules in monitor mode would have done, apart from real stops.
Read when scraped: the recorder's queue and spool (decisions waiting for the store), and each SIEM target's
events sent and dropped. Labels are bounded: actions, channels and failures are fixed sets; rule ids are the
policy's own; SIEM targets are the configured ones. No label holds a user, a destination or a file name.

Each runtime has its own registry (several runtimes in one process, as in tests, never mix their counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.records import Inspection

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decisions = Counter("detour_decisions", "Decisions made, by action and channel",
                                 ["action", "channel"], registry=self.registry)
        self.failures = Counter("detour_decisions_on_error", "Decisions made by the policy's on_error: an upload "
                                "that timed out, failed or found no capacity", ["what"], registry=self.registry)
        self.would = Counter("detour_monitor_would", "Decisions that rules in monitor mode would have made more "
                             "severe (recorded, not enforced), by what they would do and rule",
                             ["would", "rule"], registry=self.registry)

    def decision(self, inspection: Inspection, channel: str) -> None:
        decision = inspection.decision
        self.decisions.labels(decision.action.value, channel).inc()
        if inspection.failure:
            self.failures.labels(inspection.failure).inc()
        for reason in decision.monitored:
            if reason.action.severity > decision.action.severity:
                self.would.labels(reason.action.value, reason.rule).inc()

    def watch(self, collect: Callable[[], Iterator[CounterMetricFamily | GaugeMetricFamily]]) -> None:
        """Figures read when scraped (the recorder's queue, the SIEM's senders)."""
        self.registry.register(_Reading(collect))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Reading(Collector):
    def __init__(self, collect: Callable[[], Iterator[CounterMetricFamily | GaugeMetricFamily]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from self._collect()
