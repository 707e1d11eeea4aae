"""The custom scalars, each saying its format and pointing at its specification (`@specifiedBy`).

They replace strawberry's `Date` and `DateTime` ("Date (isoformat)"), which accepted whatever
Python's ISO parsers accept and said nothing a client could rely on.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from strawberry.schema.types.base_scalars import wrap_parser
from strawberry.types.scalar import ScalarDefinition

DATE_SPEC: Final = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
DATETIME_SPEC: Final = "https://scalars.graphql.org/andimarek/date-time"
_FULL_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(value: str) -> dt.date:
    if not _FULL_DATE.fullmatch(value):
        raise ValueError("expected YYYY-MM-DD")
    return dt.date.fromisoformat(value)


def _serialize_date(value: dt.date) -> str:
    return value.isoformat()


def _serialize_datetime(value: dt.datetime) -> str:
    # dibx keeps its times in UTC; a naive one is UTC, and said so with its offset.
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def _parse_datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise ValueError("expected an RFC 3339 date-time with a UTC offset")
    return parsed


DATE: Final = ScalarDefinition(
    name="Date",
    description=(
        "A calendar date, RFC 3339 `full-date` (ISO 8601 extended format): `YYYY-MM-DD`, "
        "e.g. `2023-05-31`."
    ),
    specified_by_url=DATE_SPEC,
    serialize=_serialize_date,
    parse_value=wrap_parser(_parse_date, "Date"),
    parse_literal=None,
    origin=dt.date,
)

DATETIME: Final = ScalarDefinition(
    name="DateTime",
    description=(
        "An instant, RFC 3339 `date-time` with its UTC offset, e.g. "
        "`2026-03-01T12:30:00.123456+00:00` (fractional seconds only when not zero)."
    ),
    specified_by_url=DATETIME_SPEC,
    serialize=_serialize_datetime,
    parse_value=wrap_parser(_parse_datetime, "DateTime"),
    parse_literal=None,
    origin=dt.datetime,
)

SCALARS: Final = {dt.date: DATE, dt.datetime: DATETIME}
