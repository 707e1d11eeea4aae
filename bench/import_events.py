"""Benchmark: what change events cost a bulk import (same rows, same Neo4j, same run).

    .venv/bin/python -m bench.import_events --rows 50000
    .venv/bin/python -m bench.import_events --rows 100000 --order on,off --neo4j-uri bolt://...

Writes the synthetic dataset as exchange files (`dibx sample-files`, not timed), then on one
Neo4j holding reference data runs `dibx import FILES --nation USA` in its own process once per
entry of `--order`, emptying the database back to reference data before each:

* `off`: the writer as it was before events: its states are not `:PendingChange` and no batch
  calls `append_pending` (patched in the child process only, by `child` below);
* `on`: the writer as shipped; the child also times each `append_pending` (the statement that
  takes the feed counter's lock and holds it until COMMIT).

Prints rows/s of each, their ratio, the numbering statement's time per batch, and the load
average. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.analytics import neo4j
from bench.load import loadavg
from dibx.graph.driver import TxRunner

_bench_import = importlib.import_module("bench.import")  # `import` is a keyword
ORDER = _bench_import.ORDER
STATS = "DIBX_BENCH_STATS"


def child(argv: list[str]) -> int:
    """`python -m bench.import_events child on|off IMPORT-ARGS...`: `dibx import`, with events
    switched off, or on and its numbering statements timed into $DIBX_BENCH_STATS."""
    from dibx import cli
    from dibx.exchange import writer
    from dibx.graph import outbox

    mode, rest = argv[0], argv[1:]
    timings: list[float] = []
    if mode == "off":
        plain = writer.new_state

        def new_state(*args: Any, **kw: Any) -> str:
            return plain(*args, **kw).replace(f":{outbox.PENDING}", "")

        async def append_pending(tx: TxRunner) -> int:
            return 0

        writer.new_state = new_state
        outbox.append_pending = append_pending
    else:
        timed = outbox.append_pending

        async def append_timed(tx: TxRunner) -> int:
            started = time.perf_counter()
            try:
                return await timed(tx)
            finally:
                timings.append(time.perf_counter() - started)

        outbox.append_pending = append_timed
    error = None
    try:
        code = cli.main(["import", *rest])
    except BaseException:  # noqa: BLE001 - the parent reads and reports it
        error, code = traceback.format_exc(), 1
    stats = {"code": code, "error": error, "numbering": timings}
    Path(os.environ[STATS]).write_text(json.dumps(stats), encoding="utf-8")
    return code


async def main(args: argparse.Namespace) -> dict[str, Any]:
    order = args.order.split(",")
    with (
        tempfile.TemporaryDirectory(prefix="dibx-import-events-") as tmp,
        neo4j(args.neo4j_uri) as uri,
    ):
        work = Path(tmp)
        env, _, files, rows, graph = await _bench_import.prepare(
            work, uri, args.rows, **{STATS: str(work / "stats.json")}
        )
        paths = [str(p) for p in files]
        runs: list[dict[str, Any]] = []
        for mode in order:
            await _bench_import.wipe(graph)
            argv = [sys.executable, "-m", "bench.import_events", "child", mode, *paths]
            argv += ["--nation", "USA", "--batch-size", str(args.batch_size)]
            before = loadavg()
            seconds, rss, out = await asyncio.to_thread(_bench_import.run_child, argv, env)
            after = loadavg()
            stats = json.loads(await asyncio.to_thread(Path(env[STATS]).read_text, "utf-8"))
            numbering = stats["numbering"]
            events = await graph.read_one("MATCH (s:Change) RETURN count(s) AS n")
            pending = await graph.read_one("MATCH (s:PendingChange) RETURN count(s) AS n")
            runs.append(
                {
                    "events": mode,
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(rows / seconds),
                    "peak_rss_mb": rss,
                    "report": out.strip().splitlines()[0] if out.strip() else "",
                    "exit": stats["code"],
                    "error": stats["error"],
                    "events_in_feed": events["n"] if events else None,
                    "pending_left": pending["n"] if pending else None,
                    "numbering_statements": len(numbering),
                    "numbering_ms_per_batch": round(1000 * sum(numbering) / len(numbering), 1)
                    if numbering
                    else None,
                    "numbering_ms_max": round(1000 * max(numbering), 1) if numbering else None,
                    "loadavg_before": before,
                    "loadavg_after": after,
                }
            )
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        await graph.close()
    speed = {r["events"]: r["rows_per_s"] for r in runs}
    return {
        "rows": rows,
        "batch_size": args.batch_size,
        "runs": runs,
        "on_vs_off": round(speed["on"] / speed["off"], 3) if {"on", "off"} <= set(speed) else None,
    }


def cli() -> None:
    if sys.argv[1:2] == ["child"]:
        sys.exit(child(sys.argv[2:]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=50_000, help="synthetic rows in all (about)")
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--order", default="off,on", help="runs, in order: on / off, comma-separated")
    p.add_argument("--neo4j-uri", default=None, help="a running server (it will be wiped)")
    args = p.parse_args()
    print(json.dumps(asyncio.run(main(args)), indent=2))


if __name__ == "__main__":
    cli()
