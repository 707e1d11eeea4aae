"""`dibx import` and `dibx sample-files`: the operator's bulk import, and synthetic files.

`dibx import FILE... --nation GBR [--org ORG] [--dry-run] [--batch-size N] [--parallel N]
[--report FILE]`
imports as that nation's steward (`importer.operator`) through the configured audit sink,
shows progress on stderr (a bar on a terminal, log lines otherwise), prints the final
report and the first `--show` rejects, writes every reject to `--report` (JSON Lines), and
exits 1 when any row was rejected (2 when the import could not run at all).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import IO, Any

from dibx import config
from dibx.exchange.format import FormatError, format_of
from dibx.exchange.importer import (
    DEFAULT_BATCH,
    DEFAULT_PARALLEL,
    ImportReport,
    Source,
    operator,
    run_import,
)
from dibx.exchange.progress import for_stream
from dibx.exchange.validate import Reject

CHUNK = 1 << 16


def _chunks(path: Path) -> Any:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def summary(report: ImportReport) -> str:
    if report.dry_run:
        return (
            f"dry run: read {report.read:,}, valid {report.valid:,}, "
            f"rejected {report.rejected:,} (nothing written)"
        )
    return (
        f"read {report.read:,}, created {report.created:,}, updated {report.updated:,}, "
        f"unchanged {report.unchanged:,}, rejected {report.rejected:,}"
    )


def _sources(names: list[str]) -> list[Source] | str:
    sources = []
    for name in names:
        path = Path(name)
        try:
            format_of(path)
        except FormatError as exc:
            return str(exc)
        if not path.is_file():
            return f"no such file {name}"
        sources.append(Source(path.name, _chunks(path), path.stat().st_size))
    return sources


async def _run(
    args: argparse.Namespace,
    settings: config.Settings,
    uri: str,
    sources: list[Source],
    report_file: IO[str] | None,
) -> int:
    from dibx.app import startup
    from dibx.auth import policy as policy_module
    from dibx.graph import migrations, tallies
    from dibx.graph.driver import Graph, connect
    from dibx.services.audit import WriteAudit, sink_from

    policy = policy_module.load(settings.policy_file, startup.vocabulary(settings.reference_dir))

    def on_reject(reject: Reject) -> None:
        if report_file is not None:
            report_file.write(json.dumps(reject_dict(reject)) + "\n")

    graph = Graph(
        connect(uri, settings.neo4j_user, settings.neo4j_password),
        settings.neo4j_database,
        tx_timeout=settings.neo4j_tx_timeout_s,
    )
    audit = WriteAudit(
        sink_from(settings.audit_sink), operation="import", policy_version=policy.version
    )
    try:
        await migrations.apply(graph)
        report = await run_import(
            graph,
            policy,
            operator(policy, args.nation.upper(), args.org),
            sources,
            audit=audit,
            dry_run=args.dry_run,
            batch_size=args.batch_size,
            parallel=args.parallel,
            progress=for_stream(sys.stderr),
            on_reject=on_reject,
            max_rejects=args.show,
        )
        if not args.dry_run:
            # Counts of owners the import changed, summed again (`dibx.graph.tallies`).
            await tallies.refresh(graph)
    finally:
        await graph.close()
    print(summary(report))
    if report.stopped is not None:
        print(f"dibx: the import stopped: {report.stopped}", file=sys.stderr)
    for reject in report.rejects[: args.show]:
        print(f"  {reject}")
    if report.rejected > args.show:
        more = report.rejected - args.show
        where = f" (all in {args.report})" if args.report else " (--report FILE lists all)"
        print(f"  ... and {more:,} more{where}")
    if report.stopped is not None:
        return 2
    return 1 if report.rejected else 0


def reject_dict(reject: Reject) -> dict[str, Any]:
    return {
        "source": reject.source,
        "line": reject.line,
        "column": reject.column,
        "code": reject.code,
        "reason": reject.reason,
    }


def import_cmd(args: argparse.Namespace, settings: config.Settings, uri: str) -> int:
    sources = _sources(args.files)
    if isinstance(sources, str):
        print(f"dibx: {sources}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        report_file = (
            stack.enter_context(Path(args.report).open("w", encoding="utf-8"))
            if args.report
            else None
        )
        return asyncio.run(_run(args, settings, uri, sources, report_file))


def sample_files_cmd(args: argparse.Namespace, settings: config.Settings) -> int:
    from dibx.app import startup
    from dibx.auth import policy as policy_module
    from dibx.exchange.samples import write_files

    policy = policy_module.load(settings.policy_file, startup.vocabulary(settings.reference_dir))
    written = write_files(
        Path(args.directory),
        args.suppliers,
        floors=policy.stewardship.floors,
        seed=args.seed,
        fmt=args.format,
    )
    for path, rows in written.items():
        print(f"{path}: {rows:,} rows")
    print(f"{sum(written.values()):,} rows in all; import them with --nation USA")
    return 0


def add_parsers(sub: Any, positive: Any) -> None:
    imp = sub.add_parser("import", help="bulk import exchange files (docs/exchange-format.md)")
    imp.add_argument("files", nargs="+", metavar="FILE", help=".csv or .jsonl files")
    imp.add_argument("--nation", required=True, help="the importing (originating) nation")
    imp.add_argument("--org", default=None, help="the importing organisation")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument(
        "--batch-size", type=positive, default=DEFAULT_BATCH, help="rows per transaction"
    )
    imp.add_argument(
        "--parallel",
        type=positive,
        default=DEFAULT_PARALLEL,
        help=f"batches of one entity written at once (default {DEFAULT_PARALLEL}; 1: in order)",
    )
    imp.add_argument(
        "--report", default=None, metavar="FILE", help="write every reject here (JSON Lines)"
    )
    imp.add_argument("--show", type=positive, default=20, help="rejects printed (default 20)")
    sample = sub.add_parser(
        "sample-files", help="write the synthetic dataset as exchange files (tests, bench)"
    )
    sample.add_argument("directory")
    sample.add_argument("--suppliers", type=positive, default=2000, help="about 5 rows each")
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--format", choices=["csv", "jsonl"], default="csv")
