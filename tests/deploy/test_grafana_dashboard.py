"""The Grafana dashboard: current schema, an experiment variable, the panels the issue asks for,
and every expression valid PromQL over series the gateway really exports."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .conftest import (
    dashboard_panels,
    dashboard_queries,
    exported_metric_names,
    grafana_substitute,
    load_dashboard,
    metric_names,
)

# Grafana 12's schema version of the classic dashboard JSON (the format "Import dashboard" and
# grafana.com use). The only later migration, v43, rewrites formatTime transformations, which
# this dashboard has none of.
CURRENT_SCHEMA_VERSION = 42

DOC = load_dashboard()
QUERIES = dashboard_queries(DOC)
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard_panels(DOC) if p["type"] != "row"]


def variable(name: str) -> dict[str, Any]:
    found = [v for v in DOC["templating"]["list"] if v["name"] == name]
    assert len(found) == 1, f"no single ${name} variable"
    return found[0]


def test_current_schema_and_identity() -> None:
    assert DOC["schemaVersion"] == CURRENT_SCHEMA_VERSION
    assert not any(
        t.get("id") == "formatTime"
        for p in dashboard_panels(DOC)
        for t in p.get("transformations", [])
    )
    assert DOC["uid"] == "abgate-ab-testing"
    assert DOC["title"] and DOC["id"] is None  # importable: Grafana assigns the id
    assert DOC["refresh"] and DOC["time"]["from"].startswith("now-")


def test_experiment_and_datasource_variables() -> None:
    ds = variable("datasource")
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    exp = variable("experiment")
    assert exp["type"] == "query" and exp["datasource"] == DATASOURCE
    assert exp["query"]["query"] == exp["definition"]
    assert exp["definition"] == "label_values(abgate_experiment_weight, experiment)"
    assert "abgate_experiment_weight" in exported_metric_names()
    assert exp["multi"] is False and exp["includeAll"] is False


def test_every_panel_queries_prometheus_for_the_chosen_experiment() -> None:
    assert len(panels()) >= 15
    for panel in panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE
            assert "$experiment" in target["expr"], f"{panel['title']} ignores $experiment"


def test_layout_fits_the_grid_without_overlap() -> None:
    every = dashboard_panels(DOC)
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in every:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        columns, rows = range(g["x"], g["x"] + g["w"]), range(g["y"], g["y"] + g["h"])
        mine = set(itertools.product(columns, rows))
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_panels_the_issue_asks_for() -> None:
    by_type = {p["type"] for p in panels()}
    assert {"piechart", "timeseries", "stat", "state-timeline", "bargauge"} <= by_type
    exprs = " ".join(e for _, _, e in QUERIES)
    for needle in (
        "abgate_assignments_total",  # traffic split, actual share
        "abgate_experiment_weight",  # target share
        "abgate_requests_total",  # requests/s, error rate
        "histogram_quantile(0.50",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
        "abgate_fallbacks_total",
        "abgate_circuit_state",
        "abgate_feedback_total",  # live accuracy
        "abgate_srm_p_value",
        "abgate_verdict",
        "abgate_always_valid_p_value",
        "abgate_accuracy_difference",
        "abgate_drift_psi",
    ):
        assert needle in exprs, needle
    pie = next(p for p in panels() if p["type"] == "piechart")
    assert "abgate_assignments_total" in pie["targets"][0]["expr"]
    split = next(p for p in panels() if p["title"] == "Weight vs actual share")
    split_exprs = " ".join(t["expr"] for t in split["targets"])
    assert "abgate_experiment_weight" in split_exprs and "abgate_assignments_total" in split_exprs


def test_verdict_and_breaker_values_are_named() -> None:
    verdict = next(p for p in panels() if p["title"] == "Verdict")
    names = verdict["fieldConfig"]["defaults"]["mappings"][0]["options"]
    expected = ["CONTINUE", "PROMOTE", "ROLLBACK", "INVALID (SRM)"]
    assert [names[k]["text"] for k in "0123"] == expected
    breaker = next(p for p in panels() if p["title"] == "Circuit breakers")
    states = breaker["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert [states[k]["text"] for k in "012"] == ["closed", "open", "half-open"]


@pytest.mark.parametrize(
    "expr", [e for _, _, e in QUERIES], ids=[f"{t}:{r}" for t, r, _ in QUERIES]
)
def test_expression_parses_and_uses_only_exported_series(expr: str) -> None:
    names = metric_names(grafana_substitute(expr, "financial-ab-test-experiment"))
    assert names, "selects no series"
    unknown = names - exported_metric_names()
    assert not unknown, f"not exported by the gateway: {sorted(unknown)}"


def test_substitution_rejects_unknown_variables_but_keeps_regex_groups() -> None:
    with pytest.raises(KeyError, match="nope"):
        grafana_substitute("rate(x[$nope])", "e")
    assert grafana_substitute('label_replace(x{e="$experiment"}, "a", "$1", "b", "(.*)")', "e") == (
        'label_replace(x{e="e"}, "a", "$1", "b", "(.*)")'
    )
