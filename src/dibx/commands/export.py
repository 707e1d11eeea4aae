"""`dibx export`: an operator writes one nation's releasable slice to stdout, a file or (CSV)
a directory. The slice is exactly what a token of that nation without attributes may read."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dibx import config
from dibx.auth.policy import Policy
from dibx.auth.tokens import is_nation_code
from dibx.exchange.export import ExportError, check_format, operator_scope, parse_as_of, run_export
from dibx.graph.driver import Graph, connect
from dibx.services.memberships import MembershipDirectory


async def export(
    settings: config.Settings,
    uri: str,
    policy: Policy,
    *,
    nation: str,
    attrs: Sequence[str],
    as_of: str | None,
    fmt: str,
    out: str | None,
) -> int:
    """Runs the export; says what was written (or what is wrong) on stderr."""
    code = nation.strip().upper()
    try:
        if not is_nation_code(code):
            raise ExportError(f"{nation!r} is not an ISO 3166-1 alpha-3 code", field="nation")
        check_format(fmt)
        at = parse_as_of(as_of) if as_of is not None else None
    except ExportError as exc:
        print(f"dibx export: {exc}", file=sys.stderr)
        return 2
    graph = Graph(
        connect(uri, settings.neo4j_user, settings.neo4j_password),
        settings.neo4j_database,
        tx_timeout=settings.neo4j_tx_timeout_s,
    )
    try:
        today = datetime.now(UTC).date()
        groups = await MembershipDirectory(graph).groups_of(code, today)
        scope = operator_scope(policy, code, groups, today)
        tally = await run_export(
            graph,
            scope,
            fmt=fmt,
            out=Path(out) if out else None,
            stdout=sys.stdout.buffer,
            attrs=attrs,
            at=at,
            catalogue_steward=policy.stewardship.catalogue_steward,
        )
    except ExportError as exc:
        print(f"dibx export: {exc}", file=sys.stderr)
        return 2
    finally:
        await graph.close()
    counts = ", ".join(f"{name} {n}" for name, n in tally.rows.items()) or "nothing"
    print(f"exported for {code}: {counts} ({tally.total} rows)", file=sys.stderr)
    return 0
