"""Metric labels stay bounded: operation names are capped, rejection reasons a fixed set."""

from __future__ import annotations

import pytest

from dibx.app.metrics import MAX_OPERATIONS, Metrics, rejection_reason
from dibx.graph.driver import QueryStats


def metrics() -> Metrics:
    return Metrics(lambda: QueryStats(), lambda: 0)


def test_operation_names_are_capped_and_odd_ones_bucketed() -> None:
    m = metrics()
    assert m.operation(None) == "anonymous"
    assert m.operation("x" * 65) == "other"
    assert m.operation("drop table; --") == "other"
    names = [f"Op{i}" for i in range(MAX_OPERATIONS)]
    assert [m.operation(n) for n in names] == names
    assert m.operation("OneTooMany") == "other"
    assert m.operation("Op7") == "Op7"  # names seen before the cap keep their label


@pytest.mark.parametrize(
    ("status", "codes", "reason"),
    [
        (401, ["UNAUTHENTICATED"], "token"),
        (403, ["INSUFFICIENT_SCOPE"], "scope"),
        (200, ["FORBIDDEN"], "forbidden"),
        (413, ["PAYLOAD_TOO_LARGE"], "limit"),
        (429, ["RATE_LIMITED"], "limit"),
        (200, ["LIMIT_EXCEEDED"], "limit"),
        (200, ["GRAPHQL_VALIDATION_FAILED"], "validation"),
        (400, ["BAD_REQUEST"], "validation"),
        (200, [], None),
        (503, ["SERVICE_UNAVAILABLE"], None),
    ],
)
def test_rejection_reasons(status: int, codes: list[str], reason: str | None) -> None:
    assert rejection_reason(status, codes) == reason
