"""CSV cells and spreadsheet formulas (OWASP, CSV injection): export writes a text that
would open as a formula (`=`, `+`, `-`, `@`, tab or carriage return first, after any
apostrophes) with one apostrophe more in front, and the importer takes exactly that one off.
The rule is a bijection: every text comes back as it was, one that starts with an
apostrophe included, and no escaped cell starts like a formula. Numbers are not text and
are written as they are."""

from __future__ import annotations

import csv
import io
import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dibx.exchange import export
from dibx.exchange.format import ENTITIES, FORMULA_START, escape_cell, unescape_cell
from dibx.exchange.reader import Row, read

EXAMPLES = int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20"))
SETTINGS = settings(max_examples=EXAMPLES * 25, deadline=None, database=None)
# Texts that start like a formula, behind any number of apostrophes, and any other text.
TEXTS = st.one_of(
    st.text(),
    st.builds(
        lambda quotes, first, rest: quotes + first + rest,
        st.text(alphabet="'", max_size=3),
        st.sampled_from([*FORMULA_START, "'", "a", " "]),
        st.text(),
    ),
)


@SETTINGS
@given(TEXTS)
@example('=HYPERLINK("https://evil.example","Acme")')
@example("'=already quoted")
@example("'plain apostrophe")
def test_any_text_round_trips_through_the_csv_escape(text: str) -> None:
    cell = escape_cell(text)
    assert unescape_cell(cell) == text
    assert not cell.startswith(FORMULA_START)
    assert cell == text or cell == "'" + text


@SETTINGS
@given(TEXTS.filter(lambda t: t.strip() and "\x00" not in t))
def test_any_name_round_trips_through_the_export_cell_and_the_csv_reader(name: str) -> None:
    """The whole path: the export's cell, a CSV file, the importer's reader."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "marking", "name", "nation"])
    writer.writerow([export._cell("acme"), export._cell("CUI"), export._cell(name), "GBR"])
    rows = list(read("suppliers.csv", [out.getvalue()]))
    assert len(rows) == 1
    assert isinstance(rows[0], Row)
    assert rows[0].values["name"] == name


@pytest.mark.parametrize("value", [-5, -0.5, 420, 1.5e-3])
def test_numbers_are_not_text_and_not_escaped(value: float) -> None:
    assert export._cell(value) == str(value)


def test_the_reader_unescapes_text_columns_only() -> None:
    source = ["supplier,capability,marking,capacity,unit\n", "a,c,CUI,'-5,'=kg\n"]
    (row,) = read("provides.csv", source)
    assert isinstance(row, Row)
    assert row.entity is ENTITIES["provides"]
    assert row.values["unit"] == "=kg"
    assert row.values["capacity"] == "'-5"  # not text: read as given (and then refused)
