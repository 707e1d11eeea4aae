"""Streaming readers of exchange files: CSV and JSON Lines, one row at a time.

A source is any iterable of text (lines or chunks) or bytes chunks: an open file, a request
body stored elsewhere, a list in a test. Memory stays bounded whatever the source's size: a
reader holds one line (at most `MAX_LINE` characters) and one row, never the file. Every row
says where it came from (source name and line number) so a reject can point at it; a row of a
shape the format cannot read (a bad JSON line, a cell in no column) is yielded as a `BadRow`
so that reading goes on and every problem is reported.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from dibx.exchange.format import (
    ENTITIES,
    TYPE,
    Entity,
    FormatError,
    check_header,
    entity_of,
    format_of,
    text_columns,
    unescape_cell,
)

MAX_LINE: Final = 1 << 20  # characters in one line (or one CSV record)
Chunk = str | bytes


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its entity, its values by column name (CSV: text; JSON: typed; an empty
    cell or null is absent), and where it is."""

    source: str
    line: int
    entity: Entity
    values: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A line that is not a row of the format; `column` names the offending column if any."""

    source: str
    line: int
    column: str
    message: str


class Counter:
    """Bytes (or characters) read so far from a source: the progress display's measure."""

    def __init__(self) -> None:
        self.consumed = 0


def lines(chunks: Iterable[Chunk], counter: Counter | None = None) -> Iterator[str]:
    """Text lines (each with its newline, the last maybe without) from text or bytes chunks.

    Bytes are UTF-8; a byte-order mark at the start is dropped (of bytes or text); a line
    longer than `MAX_LINE` stops the source with a FormatError rather than grow without
    bound."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    first = True
    for chunk in chunks:
        if counter is not None:
            counter.consumed += len(chunk)
        try:
            text = decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text: {exc.reason}") from None
        if not text:
            continue
        if first:
            first = False
            if isinstance(chunk, str):
                # Text read from a file with a byte-order mark may still start with it.
                text = text.removeprefix("\ufeff")
                if not text:
                    continue
        start = 0
        while True:
            cut = text.find("\n", start)
            if cut < 0:
                break
            yield pending + text[start : cut + 1]
            pending = ""
            start = cut + 1
        pending += text[start:]
        if len(pending) > MAX_LINE:
            raise FormatError(f"a line longer than {MAX_LINE} characters")
    tail = decoder.decode(b"", final=True)
    pending += tail
    if pending:
        yield pending


def read(
    name: str, chunks: Iterable[Chunk], counter: Counter | None = None
) -> Iterator[Row | BadRow]:
    """Rows of source `name` (its suffix says the format, its name the entity)."""
    fmt = format_of(name)
    entity = entity_of(name)
    if fmt == "csv":
        if entity is None:
            known = ", ".join(ENTITIES)
            raise FormatError(f"{name}: the file name names no entity; end it in one of {known}")
        return read_csv(name, entity, lines(chunks, counter))
    return read_jsonl(name, entity, lines(chunks, counter))


class _Lines:
    """The line iterator csv reads, counting physical lines so a record knows where it began."""

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.count = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.count += 1
        return line


def read_csv(name: str, entity: Entity, source: Iterable[str]) -> Iterator[Row | BadRow]:
    counted = _Lines(iter(source))
    reader = csv.reader(counted, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FormatError(f"{name}:1: bad CSV header: {exc}") from None
    header = [h.strip() for h in header]
    check_header(entity, header, f"{name}:1")
    width = len(header)
    text = text_columns(entity)
    while True:
        first = counted.count + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(name, first, "", f"bad CSV: {exc}")
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if len(cells) != width:
            yield BadRow(
                name, first, "", f"{len(cells)} cells where the header has {width} columns"
            )
            continue
        values = {
            h: unescape_cell(c) if h in text else c
            for h, c in zip(header, cells, strict=True)
            if c != ""
        }
        yield Row(name, first, entity, values)


_KNOWN: dict[str, frozenset[str]] = {}


def _known(entity: Entity) -> frozenset[str]:
    found = _KNOWN.get(entity.name)
    if found is None:
        found = _KNOWN[entity.name] = frozenset(entity.columns)
    return found


def read_jsonl(name: str, entity: Entity | None, source: Iterable[str]) -> Iterator[Row | BadRow]:
    """Each line one JSON object; `type` names its entity where the file name does not."""
    for number, text in enumerate(source, start=1):
        if not text.strip():
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield BadRow(name, number, "", f"not a JSON object: {exc}")
            continue
        if not isinstance(obj, dict):
            yield BadRow(name, number, "", "not a JSON object")
            continue
        this = entity
        named = obj.pop(TYPE, None)
        if named is not None:
            this = ENTITIES.get(named) if isinstance(named, str) else None
            if this is None:
                known = ", ".join(ENTITIES)
                yield BadRow(name, number, TYPE, f"unknown type {named!r}; one of {known}")
                continue
        if this is None:
            yield BadRow(name, number, TYPE, "the row names no type and the file name no entity")
            continue
        columns = _known(this)
        unknown = [k for k in obj if k not in columns]
        if unknown:
            yield BadRow(
                name,
                number,
                unknown[0],
                f"unknown column {unknown[0]!r} for {this.name}; known: {', '.join(this.columns)}",
            )
            continue
        values = {k: v for k, v in obj.items() if v is not None and v != ""}
        yield Row(name, number, this, values)
