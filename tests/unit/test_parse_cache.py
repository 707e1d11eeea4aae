"""The audit's parse of each document (`parse_operation`) is remembered for documents sent
again and again, within a bound of entries and of bytes: a flood of distinct large documents
(each up to the body limit) cannot make the process hold hundreds of megabytes."""

from __future__ import annotations

import tracemalloc

from dibx.app.graphql_view import parse_operation

LARGE = 50_000  # characters of one document, well under the body limit


def _junk(i: int) -> str:
    """A document that fails at its first token (cheap to parse), remembered all the same."""
    return f"}} {i} " + "#" * LARGE


def test_the_parse_cache_is_bounded_by_bytes() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(300):
            assert parse_operation(_junk(i), None).kind is None
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 300 documents of 50 kB: bounded by entries only, the last 256 (12.8 MB) stayed.
    assert held < 6_000_000, held


def test_a_small_document_sent_again_is_parsed_once() -> None:
    document = "query Again { viewer { nation } }"
    first = parse_operation(document, "Again")
    assert first.name == "Again"
    assert first.kind == "query"
    assert parse_operation(document, "Again") is first
