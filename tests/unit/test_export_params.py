"""Export parameters: the field list and the date are checked before anything is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dibx.exchange.export import ExportError, check_format, parse_as_of, select


def test_export_attr_names_an_unknown_field() -> None:
    with pytest.raises(ExportError, match="unknown field 'capacityy'"):
        select(["name,capacityy"])
    with pytest.raises(ExportError, match="unknown entity 'offers'"):
        select(["offers.capacity"])
    assert select(["suppliers.nation"])["suppliers"] == ("nation",)
    assert select([])["provides"] == ("capacity", "unit", "trl", "leadTimeDays")


def test_export_as_of_takes_a_date_or_an_aware_time() -> None:
    assert parse_as_of("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_as_of("2026-12-01T10:00:00+01:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    # In UTC, as the driver takes it (whole-minute offsets only), from the epoch on (history
    # starts there), also where UTC is past year 9999 or before year 1.
    assert parse_as_of("2026-12-01T10:00:30+00:00:30").utcoffset() == timedelta(0)
    assert parse_as_of("1960-06-01") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_as_of("0001-01-01T00:00:00+14:00") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_as_of("9999-12-31T23:59:59-14:00") == datetime.max.replace(tzinfo=UTC)
    for bad in ("2026-12-01T10:00:00", "yesterday", "2026-13-01"):
        with pytest.raises(ExportError, match="asOf: bad date"):
            parse_as_of(bad)


def test_export_format_names_the_formats() -> None:
    assert check_format("graphml") == "graphml"
    with pytest.raises(ExportError, match="format: unknown format 'xml'; use jsonl, csv, graphml"):
        check_format("xml")
