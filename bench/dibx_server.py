"""The dibx app under uvicorn, as bench/run.py starts it in its own process.

    python -m bench.dibx_server --neo4j-uri bolt://127.0.0.1:7687 --port 8123 \
        --data-dir /tmp/x --audit-file /tmp/x/audit.jsonl

The real app (`build_runtime` + `create_app`): real token validation against the development
issuer's key in DATA_DIR/dev-keys, the shipped releasability policy, a file audit sink
(append, flush and fsync per request), one uvicorn worker (`--workers N`: N API processes on
one socket, as `dibx serve --workers N` runs them), no access log. Exits when its
stdin reaches EOF (bench/run.py holds it open), so it never outlives the benchmark.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import uvicorn

from dibx import config
from dibx.app import build_runtime, create_app, workers


def settings_env(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "DIBX_ENV": "development",
        "DIBX_DATA_DIR": args.data_dir,
        "DIBX_NEO4J_URI": args.neo4j_uri,
        "DIBX_HOST": "127.0.0.1",
        "DIBX_PORT": str(args.port),
        "DIBX_AUDIT_SINK": f"file:{args.audit_file}",
    }
    if args.max_depth:
        env["DIBX_MAX_DEPTH"] = str(args.max_depth)
    return env


def _exit_on_stdin_eof() -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="stdin-eof").start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dibx_server")
    parser.add_argument("--neo4j-uri", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--audit-file", required=True)
    parser.add_argument("--max-depth", type=int, default=0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="as `dibx serve --workers N`")
    args = parser.parse_args(argv)
    settings = config.load({**os.environ, **settings_env(args)})
    if args.exit_on_stdin_eof:
        _exit_on_stdin_eof()
    if args.workers > 1:
        # As `dibx serve --workers N`: one socket, N spawned API processes, which read their
        # settings from the environment.
        os.environ.update(settings_env(args))
        workers.check(settings, args.workers)
        return workers.supervise(settings, args.workers)
    runtime = build_runtime(settings)
    app = create_app(runtime)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, workers=1
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
