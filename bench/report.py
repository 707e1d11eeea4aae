"""Results of a run as JSON (everything) and markdown (the tables of bench/README.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.load import Measurement


def _f(value: float, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _loads(values: Any) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def _load(m: Measurement) -> str:
    return f"{m.load_before[0]:.2f}→{m.load_after[0]:.2f}"


def _cpu(m: Measurement) -> str:
    """CPU ms per request: Neo4j / the HTTP server of this way / the load generator."""
    server = (
        "dibx"
        if m.way.startswith("dibx ")
        else ("neo4j-graphql" if m.way.startswith("neo4j-graphql") else None)
    )
    parts = [
        _f(m.cpu_ms_per_request("neo4j"), 1),
        _f(m.cpu_ms_per_request(server), 1) if server else "·",
        _f(m.cpu_ms_per_request("client"), 1),
    ]
    return " / ".join(parts)


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def ratios(measurements: list[Measurement], nations: list[str]) -> list[dict[str, Any]]:
    """dibx against each other way, per operation and caller: p50 ratio and req/s ratio."""
    by = {(m.operation, m.way): m for m in measurements}
    rows = []
    for op in dict.fromkeys(m.operation for m in measurements):
        for nation in nations:
            dibx = by.get((op, f"dibx {nation}"))
            if dibx is None:
                continue
            row: dict[str, Any] = {"operation": op, "caller": nation}
            for name, key in (
                ("raw+checks", f"raw+checks {nation}"),
                ("raw", "raw"),
                ("neo4j-graphql", "neo4j-graphql"),
                ("dibx-cypher", f"dibx-cypher {nation}"),
            ):
                other = by.get((op, key))
                if other is None:
                    continue
                row[f"p50 dibx/{name}"] = round(_ratio(dibx.p50, other.p50), 2)
                row[f"rps dibx/{name}"] = round(_ratio(dibx.throughput, other.throughput), 3)
            ngql = by.get((op, "neo4j-graphql"))
            if ngql is not None:
                row["cpu dibx/neo4j-graphql"] = round(
                    _ratio(
                        dibx.cpu_ms_per_request("dibx"), ngql.cpu_ms_per_request("neo4j-graphql")
                    ),
                    2,
                )
            checked, compiled = (
                by.get((op, f"raw+checks {nation}")),
                by.get((op, f"dibx-cypher {nation}")),
            )
            if checked is not None and compiled is not None:
                row["p50 dibx-cypher/raw+checks"] = round(_ratio(compiled.p50, checked.p50), 2)
            raw = by.get((op, "raw"))
            if checked is not None and raw is not None:
                row["p50 raw+checks/raw"] = round(_ratio(checked.p50, raw.p50), 2)
            rows.append(row)
    return rows


def markdown(meta: dict[str, Any], result: dict[str, Any]) -> str:
    measurements: list[Measurement] = result.get("measurements", [])
    machine = meta["machine"]
    out = [
        f"# dibx benchmark: {meta['suppliers']:,} suppliers ({meta['started']})",
        "",
        f"`{meta['command']}` (dibx {meta.get('dibx_version', '?')})",
        "",
        f"- machine: {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}; "
        f"Neo4j heap {machine['neo4j_heap']}, page cache {machine['neo4j_page_cache']}",
        f"- load average (1/5/15 min): start {_loads(machine['load_at_start'])}, "
        f"end {_loads(machine.get('load_at_end', (math.nan,) * 3))}",
        f"- concurrency {meta['concurrency']}, {meta['requests']} measured requests per cell "
        f"(after {meta['warmup']} warm-up requests), at most {meta['max_seconds']:.0f}s per cell; "
        f"wall time {meta.get('wall_seconds', '?')}s; dibx API processes: "
        f"{meta.get('dibx_workers', 1)}",
        "",
    ]
    load = result.get("load", {})
    if load.get("loaded"):
        out += [
            "## Load",
            "",
            "| rows | nodes | edges | generate s | write s | rows/s |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {load['rows']:,} | {load['nodes']:,} | {load['edges']:,} | "
            f"{load['generate_seconds']} | {load['write_seconds']} | {load['rows_per_second']:,} |",
            "",
            "Per label/type: " + ", ".join(f"{k} {v:,}" for k, v in load["counts"].items()),
            "",
        ]
    elif load:
        out += [f"Data not loaded by this run ({load.get('suppliers_present')} suppliers).", ""]
    out += [
        "## Latency and throughput",
        "",
        "CPU ms/req: CPU time used during the measured window by Neo4j / the HTTP server "
        "(dibx or @neo4j/graphql; · for the driver ways) / this load generator, divided by "
        "the requests; unlike latency it hardly depends on what else runs on the machine. "
        "Ways marked `@N` ran with N clients in flight (throughput of the GraphQL servers).",
        "",
        "| operation | way | p50 ms | p99 ms | mean ms | req/s | errors | CPU ms/req | load 1m |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in measurements:
        out.append(
            f"| {m.operation} | {m.way} | {_f(m.p50)} | {_f(m.p99)} | {_f(m.mean)} | "
            f"{_f(m.throughput, 1)} | {m.errors}{' (cut)' if m.truncated else ''} | {_cpu(m)} | "
            f"{_load(m)} |"
        )
    failed = [m for m in measurements if m.first_error]
    if failed:
        out += ["", "First error per failing cell:", ""]
        out += [f"- {m.operation} / {m.way}: `{m.first_error}`" for m in failed]
    rows = ratios(measurements, meta["nations"])
    if rows:
        out += [
            "",
            "## Ratios",
            "",
            "p50 latency ratios (above 1: dibx is slower) and throughput ratios (below 1: dibx "
            "serves fewer requests per second), same caller nation for the checked ways.",
            "",
            "| operation | caller | p50 dibx / raw+checks | p50 dibx / raw | "
            "p50 dibx / neo4j-graphql | req/s dibx / raw+checks | req/s dibx / raw | "
            "req/s dibx / neo4j-graphql | p50 raw+checks / raw | p50 dibx-cypher / raw+checks | "
            "API CPU/req dibx / neo4j-graphql |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            cells = [
                r.get("p50 dibx/raw+checks"),
                r.get("p50 dibx/raw"),
                r.get("p50 dibx/neo4j-graphql"),
                r.get("rps dibx/raw+checks"),
                r.get("rps dibx/raw"),
                r.get("rps dibx/neo4j-graphql"),
                r.get("p50 raw+checks/raw"),
                r.get("p50 dibx-cypher/raw+checks"),
                r.get("cpu dibx/neo4j-graphql"),
            ]
            out.append(
                f"| {r['operation']} | {r['caller']} | "
                + " | ".join("–" if c is None or math.isnan(c) else f"{c:g}" for c in cells)
                + " |"
            )
    checks = result.get("cross_checks", {})
    if checks:
        out += ["", "## Cross-checks (same records and counts on 3 parameters)", ""]
        for op, pairs in checks.items():
            text = ", ".join(f"{k}: {'same' if v else 'DIFFERENT'}" for k, v in pairs.items())
            out.append(f"- {op}: {text or 'nothing to compare'}")
    if result.get("neo4j_graphql_skipped"):
        out += ["", f"@neo4j/graphql skipped: {result['neo4j_graphql_skipped']}"]
    out += ["", "## Operations", ""]
    out += [f"- **{k}**: {v}" for k, v in result.get("operations", {}).items()]
    profiles = result.get("profiles") or {}
    if profiles:
        components = list(
            dict.fromkeys(c for p in profiles.values() for c in p["share_of_busy_percent"])
        )
        out += [
            "",
            "## Where a dibx request spends its time",
            "",
            "pyinstrument, dibx in-process (ASGI transport: no socket, no uvicorn). Share of "
            "the request's busy time (not awaiting Neo4j) per component; the estimate in ms "
            "applies that share to the CPU time measured without the profiler. Blocking calls "
            "(fsync) count as busy: they stall the event loop. Call trees: "
            + ", ".join(f"`{p['file']}`" for p in profiles.values())
            + ".",
            "",
            "| component | " + " | ".join(f"{name} % (≈ ms)" for name in profiles) + " |",
            "|---|" + "---:|" * len(profiles),
        ]
        for c in components:
            shares: list[str] = []
            for p in profiles.values():
                share = p["share_of_busy_percent"].get(c)
                shares.append(
                    "–"
                    if share is None
                    else f"{share:.1f} ({share * p['cpu_ms_per_request'] / 100:.1f})"
                )
            out.append(f"| {c} | " + " | ".join(shares) + " |")
        out.append(
            "| **CPU ms/request, no profiler** | "
            + " | ".join(_f(p["cpu_ms_per_request"]) for p in profiles.values())
            + " |"
        )
        out.append(
            "| **wall ms/request, no profiler** | "
            + " | ".join(_f(p["wall_ms_per_request"]) for p in profiles.values())
            + " |"
        )
    out.append("")
    return "\n".join(out)


def _finite(value: Any) -> Any:
    """NaN (a cell without data) as null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write(prefix: Path, meta: dict[str, Any], result: dict[str, Any]) -> tuple[Path, Path]:
    measurements: list[Measurement] = result.get("measurements", [])
    data = {
        **meta,
        **{k: v for k, v in result.items() if k != "measurements"},
        "measurements": [m.summary() for m in measurements],
        "ratios": ratios(measurements, meta["nations"]),
    }
    json_path = prefix.with_suffix(".json")
    md_path = prefix.with_suffix(".md")
    json_path.write_text(json.dumps(_finite(data), indent=2, default=str) + "\n")
    md_path.write_text(markdown(meta, result))
    return json_path, md_path
