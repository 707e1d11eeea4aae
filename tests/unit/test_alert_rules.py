"""deploy/prometheus/alerts.yaml is a valid Prometheus rule file whose expressions name
metrics that /metrics exports (or `up`, which Prometheus records itself)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from dibx.app.metrics import Metrics
from dibx.config import PROJECT_ROOT
from dibx.graph.driver import QueryStats

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yaml"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
# Identifiers in PromQL that are functions, keywords or label names, not metric names.
_NOT_METRICS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "le", "kind", "instance",
    "job", "route", "status", "reason", "and", "or", "unless", "without", "on",
    "max_over_time",
}  # fmt: skip
_DURATION = re.compile(r"\d+[smhd]")


def exported() -> set[str]:
    """Every series name the app's registry can export."""
    registry = Metrics(lambda: QueryStats(), lambda: 0).registry
    names: set[str] = set()
    for family in registry.collect():
        base = family.name.removesuffix("_total") if family.type == "counter" else family.name
        names.update(base + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)  # label matchers hold no metric names
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_ranges))
    return {w for w in words if w not in _NOT_METRICS and not re.fullmatch(r"\d*e\d*", w)}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    found = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        found.extend(group["rules"])
    return found


def test_each_rule_is_a_well_formed_alert() -> None:
    names = set()
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        names.add(rule["alert"])
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        assert "for" not in rule or _DURATION.fullmatch(rule["for"])
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")")
        assert expr.count("{") == expr.count("}")
        assert expr.count("[") == expr.count("]")
    assert len(names) == len(rules())  # alert names are unique


def test_each_expression_names_an_exported_metric() -> None:
    available = exported() | {"up"}
    for rule in rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= available, (rule["alert"], used - available)


def test_the_rules_cover_what_on_call_needs() -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    assert {
        "dibx_audit_failures_total",
        "dibx_http_requests_total",
        "dibx_rejections_total",
        "dibx_graphql_request_duration_seconds_bucket",
        "dibx_neo4j_query_duration_seconds_bucket",
        "process_resident_memory_bytes",
    } <= used
