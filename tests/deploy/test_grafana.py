"""deploy/grafana/detour.json: a dashboard Grafana imports, whose every query names metrics Detour exports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from gateway.runtime import Runtime
from tests.conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "detour.json"


def exported(runtime: Runtime) -> set[str]:
    """The names of every sample Detour's /metrics can show (counters as *_total, histograms as *_bucket…)."""
    names = set()
    for family in runtime.metrics.registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def test_every_query_names_a_metric_detour_exports(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(helpdesk_webhook_url="http://127.0.0.1:9/hook")  # the outbox is shown with a webhook
    names = exported(runtime)
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) >= 15
    used = {name for query in queries for name in re.findall(r"\bdetour_[a-z_]+", query)}
    assert used - names == set()
    for family in ("detour_decisions_total", "detour_inspection_seconds_bucket", "detour_unscannable_total",
                   "detour_store_up", "detour_webhook_outbox", "detour_policy_loaded",
                   "detour_open_connections", "detour_recorder_spooled"):
        assert family in used, family
    for query in queries:
        assert query.count("(") == query.count(")") and query.count("{") == query.count("}"), query


def test_it_imports_as_grafana_expects() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "Detour" and isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance"} <= variables
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert 0 <= position["x"] and position["x"] + position["w"] <= 24
        assert panel["datasource"]["uid"] == "${datasource}"
