"""Load and soak: many concurrent clients on the real `dibx serve`, then the same with Neo4j
restarted in the middle. Loopback only, bounded in time; never part of the test run.

    make soak                                   # quick: 5,000 suppliers, 50 clients, 30 s
    make soak SOAK_ARGS="--suppliers 50000 --duration 60"

The load comes from vegeta (github.com/tsenart/vegeta, MIT; `make vegeta` installs the pinned
version with `go install` into bench/.bin): two attacks run at once, each a closed loop of
fixed workers (`-rate=0 -max-workers=N`: a worker sends its next request when the last is
answered), `--clients - --analytics-clients` sending the four reads of bench/operations.py and
`--analytics-clients` sending supply-chain analyses. Results go to
bench/results/<date>-soak-<suppliers>.{md,json}. See bench/README.md, "Soak".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import operations
from bench.analytics import ANALYSES as BENCH_ANALYSES
from bench.analytics import pick_roots
from bench.load import loadavg
from bench.run import load_data, log, pick_parameters
from bench.servers import BENCH_DIR, PROJECT_ROOT
from dibx import neo4j_server
from dibx.auth.dev_issuer import DevIssuer
from dibx.graph.driver import Graph, connect
from dibx.schema.ids import encode_id

RESULTS = BENCH_DIR / "results"
VEGETA = BENCH_DIR / ".bin" / "vegeta"
NATIONS = ("USA", "GBR", "CAN", "AUS", "DEU", "FRA", "NLD", "NOR", "POL", "JPN")
SCOPES = ("supplier:read", "supply_chain:read")
ANALYSES = {
    "capabilityGap": (
        "query($c: ID!) { capabilityGap(capability: $c, depth: 3) { marking "
        "inputs { providers totalCapacity groupsWithoutProvider } soleSourced { key } } }",
        "capability",
    ),
    "supplyChain": (
        "query($r: ID!) { supplyChain(root: $r, depth: 3) { nodeCount edgeCount marking } }",
        "supplier",
    ),
    # The same documents as the analytics bench, so the figures compare.
    "concentration": BENCH_ANALYSES["concentration"],
    "exposure": BENCH_ANALYSES["exposure"],
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- targets --------------------------------------------------------------------------------


def _target(url: str, token: str, document: str, variables: dict[str, Any]) -> str:
    body = json.dumps({"query": document, "variables": variables}).encode()
    return json.dumps(
        {
            "method": "POST",
            "url": url,
            "body": base64.b64encode(body).decode(),
            "header": {
                "Authorization": [f"Bearer {token}"],
                "Content-Type": ["application/json"],
            },
        }
    )


def write_targets(
    tmp: Path, url: str, tokens: list[str], picked: dict[str, list[str]], roots: tuple[str, ...]
) -> tuple[Path, Path]:
    """Two target files (vegeta's JSON format), each cycled through by its attack."""
    reads, analyses = [], []
    suppliers, capabilities = picked["suppliers"], picked["capabilities"]
    for i in range(200):
        op = operations.build(date.today())[i % 4]
        key = None if op.name == "list" else (suppliers if op.name == "tree" else capabilities)
        param = key[i % len(key)] if key else None
        reads.append(
            _target(url, tokens[i % len(tokens)], op.dibx_document, op.dibx_variables(param))
        )
    capability, typical, _ = roots
    for i in range(40):
        document, root = list(ANALYSES.values())[i % len(ANALYSES)]
        variables = (
            {"c": encode_id("Capability", capability)}
            if root == "capability"
            else {"r": encode_id("Supplier", suppliers[i % len(suppliers)] if i % 2 else typical)}
        )
        analyses.append(_target(url, tokens[i % len(tokens)], document, variables))
    read_file, analytics_file = tmp / "reads.jsonl", tmp / "analytics.jsonl"
    read_file.write_text("\n".join(reads) + "\n")
    analytics_file.write_text("\n".join(analyses) + "\n")
    return read_file, analytics_file


def warm_up(targets: tuple[Path, Path]) -> None:
    """Each distinct request once, in turn."""
    log("warming up")
    with httpx.Client(timeout=120) as client:
        for path, distinct in ((targets[0], 8), (targets[1], 8)):
            for line in path.read_text().splitlines()[:distinct]:
                target = json.loads(line)
                headers = {k: v[0] for k, v in target["header"].items()}
                client.post(
                    target["url"], content=base64.b64decode(target["body"]), headers=headers
                )


# --- one phase ------------------------------------------------------------------------------


def attack(
    vegeta: Path, name: str, targets: Path, workers: int, seconds: int, out: Path
) -> subprocess.Popen[bytes]:
    argv = [
        str(vegeta),
        "attack",
        f"-name={name}",
        "-format=json",
        f"-targets={targets}",
        "-rate=0",
        f"-workers={workers}",
        f"-max-workers={workers}",
        f"-duration={seconds}s",
        "-timeout=60s",
        "-keepalive=true",
        f"-output={out}",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv


def decode(vegeta: Path, results: Path) -> list[dict[str, Any]]:
    encoded = subprocess.run(  # noqa: S603 - fixed argv
        [str(vegeta), "encode", "--to=json", str(results)],
        check=True,
        capture_output=True,
    ).stdout
    return [json.loads(line) for line in encoded.splitlines() if line.strip()]


def vegeta_report(vegeta: Path, results: Path) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv
        [str(vegeta), "report", str(results)], check=True, capture_output=True, text=True
    ).stdout


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))]


def summarize(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    codes: Counter[str] = Counter()
    ok: list[float] = []
    graphql_errors: Counter[str] = Counter()
    transport: Counter[str] = Counter()
    examples: dict[str, str] = {}  # the first body of each non-200 status
    for row in rows:
        codes[str(row["code"])] += 1
        if row.get("error") and row["code"] == 0:
            transport[row["error"].split(": ")[-1][:80]] += 1
            continue
        body = base64.b64decode(row.get("body") or b"") if row.get("body") else b""
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        errors = parsed.get("errors") if isinstance(parsed, dict) else None
        if row["code"] != 200:
            examples.setdefault(str(row["code"]), body.decode(errors="replace")[:300])
        if row["code"] == 200 and not errors:
            ok.append(row["latency"] / 1e6)
        for error in errors or []:
            graphql_errors[str((error.get("extensions") or {}).get("code"))] += 1
    latencies = [row["latency"] / 1e6 for row in rows]
    return {
        "requests": len(rows),
        "ok": len(ok),
        "errors": len(rows) - len(ok),
        "status": dict(sorted(codes.items())),
        "error_codes": dict(graphql_errors.most_common()),
        "transport_errors": dict(transport.most_common(5)),
        "examples": examples,
        "req_per_s": round(len(rows) / seconds, 1),
        "p50_ms": round(_pct(latencies, 0.50), 1),
        "p99_ms": round(_pct(latencies, 0.99), 1),
        "ok_p50_ms": round(_pct(ok, 0.50), 1),
        "ok_p99_ms": round(_pct(ok, 0.99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
    }


@dataclasses.dataclass
class Restart:
    """Stops the embedded Neo4j gracefully after `at_s`, starts it again on the same data."""

    data_dir: Path
    port: int
    heap: str
    page_cache: str
    at_s: float
    events: list[tuple[float, str]] = dataclasses.field(default_factory=list)

    def run(self, started: float) -> None:
        time.sleep(self.at_s)
        self.events.append((time.monotonic() - started, "neo4j stop"))
        neo4j_server.stop(self.data_dir)
        self.events.append((time.monotonic() - started, "neo4j stopped; starting"))
        start_neo4j(self.data_dir, self.port, self.heap, self.page_cache)
        self.events.append((time.monotonic() - started, "neo4j ready"))


def start_neo4j(data_dir: Path, port: int, heap: str, page_cache: str) -> None:
    neo4j_server.start(
        data_dir, port, heap=heap, page_cache=page_cache, tie_to_parent=True, timeout=300
    )


def phase(
    args: argparse.Namespace,
    name: str,
    targets: tuple[Path, Path],
    tmp: Path,
    api_pid: int,
    restart: Restart | None,
) -> dict[str, Any]:
    readers = args.clients - args.analytics_clients
    log(
        f"phase {name}: {readers} read + {args.analytics_clients} analytics clients, "
        f"{args.duration} s"
    )
    rss_before = rss_mb(api_pid)
    load_before = loadavg()[0]
    outs = {kind: tmp / f"{name}-{kind}.bin" for kind in ("reads", "analytics")}
    started = time.monotonic()
    attacks = [
        attack(args.vegeta, "reads", targets[0], readers, args.duration, outs["reads"]),
        attack(
            args.vegeta,
            "analytics",
            targets[1],
            args.analytics_clients,
            args.duration,
            outs["analytics"],
        ),
    ]
    restarter = None
    if restart is not None:
        restarter = threading.Thread(target=restart.run, args=(started,), daemon=True)
        restarter.start()
    for process in attacks:
        process.wait(timeout=args.duration + 120)
    elapsed = time.monotonic() - started
    if restarter is not None:
        restarter.join(timeout=300)
    result: dict[str, Any] = {
        "phase": name,
        "seconds": round(elapsed, 1),
        "api_rss_mb_before": round(rss_before, 1),
        "api_rss_mb_after": round(rss_mb(api_pid), 1),
        "load_1m": [round(load_before, 2), round(loadavg()[0], 2)],
        "events": [f"{t:.1f}s {what}" for t, what in (restart.events if restart else [])],
    }
    everything: list[dict[str, Any]] = []
    for kind, out in outs.items():
        rows = decode(args.vegeta, out)
        everything += rows
        result[kind] = summarize(rows, elapsed)
        result[f"{kind}_vegeta_report"] = vegeta_report(args.vegeta, out)
    result["all"] = summarize(everything, elapsed)
    log(f"phase {name}: {json.dumps(result['all'])}")
    return result


# --- the run --------------------------------------------------------------------------------


@contextlib.contextmanager
def dibx_serve(neo4j_uri: str, tmp: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = neo4j_server.free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_PORT": str(port),
        "DIBX_DATA_DIR": str(tmp / "api"),
        "DIBX_AUDIT_SINK": f"file:{tmp / 'audit.jsonl'}",
        "DIBX_MAX_DEPTH": "12",  # the `tree` read is 10 levels deep
        # All clients share one address and ten tokens: the limits would measure themselves.
        "DIBX_RATE_PER_ADDRESS": "0",
        "DIBX_RATE_PER_TOKEN": "0",
        "DIBX_DRAIN_DELAY": "0",
    }
    with (tmp / "serve.log").open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "dibx.cli", "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("dibx serve did not start:\n" + (tmp / "serve.log").read_text())
            time.sleep(0.3)
        yield child, url
    finally:
        child.terminate()
        child.wait(timeout=60)


async def prepare(args: argparse.Namespace, uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    graph = Graph(connect(uri, "neo4j", ""), "neo4j")
    try:
        loaded = await load_data(graph, args.suppliers, seed=7, batch_size=2000, mode="auto")
        picked = await pick_parameters(graph.driver, graph.database, 20)
        roots = await pick_roots(graph)
    finally:
        await graph.close()
    return loaded, {"picked": picked, "roots": roots}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dibx-soak-") as name:
        tmp = Path(name)
        data_dir, port = tmp / "neo4j", neo4j_server.free_port()
        log(f"starting embedded Neo4j (heap {args.heap}, page cache {args.page_cache})")
        start_neo4j(data_dir, port, args.heap, args.page_cache)
        try:
            uri = f"bolt://127.0.0.1:{port}"
            loaded, params = asyncio.run(prepare(args, uri))
            issuer = DevIssuer.from_path(
                tmp / "api" / "dev-keys" / "jwks-private.json", "http://127.0.0.1:8000", "dibx"
            )
            tokens = [
                issuer.issue(f"soak-{n.lower()}", "soak", n, SCOPES, ttl=3600) for n in NATIONS
            ]
            with dibx_serve(uri, tmp) as (api, url):
                targets = write_targets(
                    tmp, f"{url}/graphql", tokens, params["picked"], params["roots"]
                )
                warm_up(targets)  # query plans compiled, caches filled: not measured
                rss_start = rss_mb(api.pid)
                steady = phase(args, "steady", targets, tmp, api.pid, None)
                restart = Restart(data_dir, port, args.heap, args.page_cache, args.duration / 3)
                outage = phase(args, "neo4j-restart", targets, tmp, api.pid, restart)
                ready = httpx.get(f"{url}/readyz", timeout=10).status_code
            logged = api_log_errors(tmp / "serve.log")
        finally:
            neo4j_server.stop(data_dir)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "suppliers": args.suppliers,
        "clients": args.clients,
        "analytics_clients": args.analytics_clients,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "data": loaded,
        "api_rss_mb_at_start": round(rss_start, 1),
        "readyz_after": ready,
        "api_log_errors": logged,
        "phases": [steady, outage],
    }


def api_log_errors(path: Path) -> dict[str, int]:
    """Exception lines in the API's output (the last line of each traceback), counted."""
    found: Counter[str] = Counter()
    in_traceback = False
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif (
            in_traceback
            and line[:1] not in (" ", "\t", "")
            and not line.startswith(("During handling", "The above exception"))
        ):
            found[line[:200]] += 1
            in_traceback = False
    return dict(found.most_common(10))


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Soak: {result['suppliers']:,} suppliers, {result['clients']} clients "
        f"({result['analytics_clients']} on analytics), {result['duration_s']} s a phase",
        "",
        f"{result['date']}, {result['cpus']} CPUs shared with other work; API RSS at start "
        f"{result['api_rss_mb_at_start']} MB; /readyz after the run: {result['readyz_after']}.",
        "",
        "| phase | traffic | requests | req/s | ok | errors | status | error codes | p50 ms "
        "| p99 ms | ok p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result["phases"]:
        for kind in ("reads", "analytics", "all"):
            s = p[kind]
            lines.append(
                f"| {p['phase']} | {kind} | {s['requests']} | {s['req_per_s']} | {s['ok']} | "
                f"{s['errors']} | {s['status']} | {s['error_codes'] or ''} | {s['p50_ms']} | "
                f"{s['p99_ms']} | {s['ok_p99_ms']} | {s['max_ms']} |"
            )
    lines += [
        "",
        "| phase | API RSS before MB | after MB | load 1m | events |",
        "|---|---|---|---|---|",
    ]
    for p in result["phases"]:
        lines.append(
            f"| {p['phase']} | {p['api_rss_mb_before']} | {p['api_rss_mb_after']} | "
            f"{p['load_1m'][0]} → {p['load_1m'][1]} | {'; '.join(p['events'])} |"
        )
    lines += ["", "Exceptions in the API's output:", ""]
    lines += [f"- {n} x `{line}`" for line, n in result["api_log_errors"].items()] or ["- none"]
    lines += ["", "First body of each non-200 status:", ""]
    for p in result["phases"]:
        for status, body in p["all"]["examples"].items():
            lines.append(f"- {p['phase']}, {status}: `{body.strip() or '(empty)'}`")
    for p in result["phases"]:
        for kind in ("reads", "analytics"):
            lines += [
                "",
                f"vegeta report, {p['phase']} / {kind}:",
                "",
                "```",
                p[f"{kind}_vegeta_report"].rstrip(),
                "```",
            ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--suppliers", type=int, default=5000, help="synthetic graph size")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients in all")
    p.add_argument("--analytics-clients", type=int, default=10, help="of them, on analytics")
    p.add_argument("--duration", type=int, default=30, help="seconds a phase (at most 600)")
    p.add_argument("--heap", default="1g")
    p.add_argument("--page-cache", default="512m")
    p.add_argument("--vegeta", type=Path, default=None, help="default: bench/.bin or PATH")
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.analytics_clients < args.clients <= 500:
        p.error("bounded run: 1..600 s, 1..500 clients, fewer analytics clients than clients")
    found = args.vegeta or (VEGETA if VEGETA.exists() else shutil.which("vegeta"))
    if found is None:
        p.error("vegeta not found: `make vegeta` installs it into bench/.bin (needs Go)")
    args.vegeta = Path(found)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"{datetime.now().strftime('%Y-%m-%d-%H%M')}-soak-{args.suppliers}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    log(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
