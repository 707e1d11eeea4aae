"""The custom scalars take and give only the formats their descriptions declare."""

from __future__ import annotations

import datetime as dt

import pytest
from strawberry.exceptions import StrawberryInputCoercionError

from dibx.schema.scalars import DATE, DATETIME


@pytest.mark.parametrize("text", ["20230531", "2023-W22-3", "2023-05-31T00:00", "2023-5-31", ""])
def test_date_takes_only_the_format_it_declares(text: str) -> None:
    assert DATE.parse_value is not None
    assert DATE.parse_value("2023-05-31") == dt.date(2023, 5, 31)
    with pytest.raises(StrawberryInputCoercionError, match="Date"):
        DATE.parse_value(text)


def test_datetime_always_says_its_offset() -> None:
    assert DATETIME.serialize is not None
    naive = dt.datetime(2026, 3, 1, 12, 30)
    assert DATETIME.serialize(naive) == "2026-03-01T12:30:00+00:00"
    aware = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert DATETIME.serialize(aware) == "2026-03-01T12:30:00+01:00"
    assert DATETIME.parse_value is not None
    with pytest.raises(StrawberryInputCoercionError, match="DateTime"):
        DATETIME.parse_value("2026-03-01T12:30:00")
