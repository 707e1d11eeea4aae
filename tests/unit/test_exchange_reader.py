"""The streaming readers of exchange files: where each row is, and memory that stays bounded."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from dibx.exchange.format import ENTITIES, FormatError
from dibx.exchange.reader import BadRow, Row, lines, read

HEADER = "key,marking,name,nation\n"


def test_lines_from_bytes_split_anywhere_even_inside_a_character() -> None:
    text = "\ufeffkey,name\nk1,Zürich Ünïts\nk2,x"
    data = text.encode()
    for size in (1, 2, 3, 7):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert list(lines(chunks)) == ["key,name\n", "k1,Zürich Ünïts\n", "k2,x"]


def test_csv_rows_know_their_line_even_after_a_multi_line_cell() -> None:
    source = [
        HEADER,
        'a,CUI,"Two\n',
        'lines",GBR\n',
        "\n",
        "b,CUI,Bee,GBR\n",
        "c,CUI,too,many,cells\n",
    ]
    rows = list(read("gbr.suppliers.csv", source))
    assert [(type(r).__name__, r.line) for r in rows] == [("Row", 2), ("Row", 5), ("BadRow", 6)]
    first = rows[0]
    assert isinstance(first, Row)
    assert first.values == {"key": "a", "marking": "CUI", "name": "Two\nlines", "nation": "GBR"}
    assert first.entity is ENTITIES["suppliers"]
    bad = rows[2]
    assert isinstance(bad, BadRow)
    assert "5 cells where the header has 4 columns" in bad.message


def test_csv_header_with_an_unknown_column_stops_the_file() -> None:
    with pytest.raises(FormatError, match="unknown column"):
        list(read("suppliers.csv", ["key,name,colour\n"]))


def test_jsonl_rows_name_their_type_and_bad_lines_are_reported() -> None:
    source = [
        '{"type": "suppliers", "key": "a", "name": "A", "nation": "GBR", "employees": 5}\n',
        "not json\n",
        '{"type": "widgets", "key": "b"}\n',
        '{"type": "provides", "supplier": "a", "capability": "c", "colour": "red"}\n',
        '{"type": "provides", "supplier": "a", "capability": "c", "trl": null}\n',
    ]
    rows = list(read("mixed.jsonl", source))
    assert [r.line for r in rows] == [1, 2, 3, 4, 5]
    first, *middle, last = rows
    assert isinstance(first, Row)
    assert first.values["employees"] == 5
    assert [(r.column, r.message[:20]) for r in middle if isinstance(r, BadRow)] == [
        ("", "not a JSON object: i"),
        ("type", "unknown type 'widget"),
        ("colour", "unknown column 'colo"),
    ]
    assert isinstance(last, Row)
    assert last.values == {"supplier": "a", "capability": "c"}  # null is no value


def _big_file(rows: int) -> Iterator[bytes]:
    yield HEADER.encode()
    chunk = []
    for i in range(rows):
        chunk.append(f"key-{i:08d},CUI,Supplier number {i} with a longish name,GBR\n")
        if len(chunk) == 1000:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()


def _peak(rows: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read("suppliers.csv", _big_file(rows)))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_holds_a_row_not_the_file() -> None:
    """Ten times the rows, about the same peak (the file itself grows to ~6 MB)."""
    small_rows, small_peak = _peak(10_000)
    big_rows, big_peak = _peak(100_000)
    assert (small_rows, big_rows) == (10_000, 100_000)
    assert big_peak < 2 * small_peak + 256 * 1024
    assert big_peak < 1024 * 1024
