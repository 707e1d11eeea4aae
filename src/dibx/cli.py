"""The `dibx` command: serve, neo4j start|stop|status, seed, import, export, token, policy
check."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

import structlog

from dibx import config, neo4j_server

# Says where credentials come from, never what they are: the banner is a log line.
DEV_BANNER = (
    "dibx is up: {url}/graphql (GraphiQL in the browser; send a bearer token in the headers). "
    'Tokens: `dibx token --nation GBR --scope "supplier:read supply_chain:read"`, or the demo '
    'clients\' client-credentials grant at {url}/oauth/token (README, "A walk-through")'
)
BANNER = "dibx is up: {url}/graphql"
log = structlog.get_logger("dibx.serve")
Say = Callable[[str], None]


def banner(settings: config.Settings) -> str:
    url = f"http://{settings.host}:{settings.port}"
    return (DEV_BANNER if settings.dev_issuer and not settings.production else BANNER).format(
        url=url
    )


def _settings() -> config.Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        sys.exit(f"dibx: configuration error: {exc}")


def _ensure_neo4j(settings: config.Settings, say: Say = print) -> str:
    """URI of the Neo4j to use: the configured one, or the embedded one (started if needed).
    Raises Neo4jServerError if the embedded one cannot start."""
    if settings.neo4j_uri:
        return settings.neo4j_uri
    db_dir = settings.data_dir / "neo4j"
    running = neo4j_server.status(db_dir)
    if running is not None:
        return running.uri
    say(f"starting embedded Neo4j on 127.0.0.1:{settings.embedded_port} (data in {db_dir}) ...")
    return neo4j_server.start(db_dir, settings.embedded_port).uri


def _neo4j_or_exit(settings: config.Settings) -> str:
    try:
        return _ensure_neo4j(settings)
    except neo4j_server.Neo4jServerError as exc:
        sys.exit(f"dibx: {exc}")


async def _seed(
    settings: config.Settings,
    uri: str,
    demo: bool,
    synthetic: int | None,
    reset: bool,
    only_if_empty: bool,
    echo: Say = print,
    warn: Say = lambda text: print(text, file=sys.stderr),
) -> int:
    from dibx.graph import migrations
    from dibx.graph.driver import Graph, connect
    from dibx.ingest import seeding

    graph = Graph(
        connect(uri, settings.neo4j_user, settings.neo4j_password),
        settings.neo4j_database,
        tx_timeout=settings.neo4j_tx_timeout_s,
    )
    try:
        await migrations.apply(graph)
        if only_if_empty and not await seeding.is_empty(graph):
            echo("database already holds data: not reseeding (use `dibx seed --reset` to reload)")
            return 0
        report = await seeding.seed(
            graph,
            settings.reference_dir,
            demo=demo,
            synthetic_suppliers=synthetic,
            reset=reset,
            echo=echo,
        )
    finally:
        await graph.close()
    for rejection in report.rejected:
        warn(f"rejected {rejection}")
    return 1 if report.rejected else 0


def _serve(args: argparse.Namespace) -> int:
    from dibx import logs
    from dibx.app import startup, workers

    settings = _settings()
    # From here on every line is a JSON log line on stderr; stdout is left to the audit sink
    # if DIBX_AUDIT_SINK says `stdout`.
    logs.configure(settings.log_level)
    # Everything read from files is checked before Neo4j starts: nothing is left running.
    try:
        startup.preflight(settings)
        workers.check(settings, args.workers)
    except config.ConfigError as exc:
        log.error("cannot_start", error=f"dibx: cannot start: {exc}")
        return 2
    started_here = settings.neo4j_uri is None and (
        neo4j_server.status(settings.data_dir / "neo4j") is None
    )
    try:
        uri = _ensure_neo4j(settings, say=_info)
    except neo4j_server.Neo4jServerError as exc:
        log.error("cannot_start", error=f"dibx: {exc}")
        return 2
    try:
        return _run_service(args, settings, uri)
    finally:
        _leave_neo4j(settings, started_here)


def _run_service(args: argparse.Namespace, settings: config.Settings, uri: str) -> int:
    if args.demo:
        code = asyncio.run(
            _seed(
                settings,
                uri,
                demo=True,
                synthetic=None,
                reset=False,
                only_if_empty=True,
                echo=_info,
                warn=lambda text: log.warning("seed_rejected", detail=text),
            )
        )
        if code:
            return code
    if not settings.neo4j_uri:
        settings = config.load({**_env(), "DIBX_NEO4J_URI": uri})
    if args.workers > 1:
        from dibx.app import workers

        # Neo4j runs once (started above or configured); each worker builds its own runtime
        # from the environment, so the workers get its URI there.
        os.environ["DIBX_NEO4J_URI"] = uri
        log.info(
            banner(settings),
            url=f"http://{settings.host}:{settings.port}/graphql",
            workers=args.workers,
        )
        return workers.supervise(settings, args.workers)
    from dibx.app.workers import server

    try:
        single = server(settings)
    except Exception as exc:  # noqa: BLE001 - start-up errors are reported, not traced
        log.error("cannot_start", error=f"dibx: cannot start: {exc}")
        return 2
    log.info(banner(settings), url=f"http://{settings.host}:{settings.port}/graphql")
    single.run()
    return 0


def _info(text: str) -> None:
    log.info(text)


def _leave_neo4j(settings: config.Settings, started_here: bool) -> None:
    """On exit, stop the embedded Neo4j this command started; say so about one it found."""
    if settings.neo4j_uri:
        return
    db_dir = settings.data_dir / "neo4j"
    if started_here:
        log.info("stopping the embedded Neo4j this command started ...")
        neo4j_server.stop(db_dir)
        log.info("embedded Neo4j stopped")
    elif neo4j_server.status(db_dir) is not None:
        log.info(
            "the embedded Neo4j was running before this command and keeps running; "
            "`dibx neo4j stop` stops it"
        )


def _env() -> dict[str, str]:
    return dict(os.environ)


def _neo4j(args: argparse.Namespace) -> int:
    settings = _settings()
    db_dir = settings.data_dir / "neo4j"
    if args.action == "start":
        print(_neo4j_or_exit(settings))
        return 0
    if args.action == "stop":
        stopped = neo4j_server.stop(db_dir)
        print("stopped" if stopped else "not running")
        return 0
    state = neo4j_server.status(db_dir)
    print(f"running pid {state.pid} at {state.uri}" if state else "not running")
    return 0 if state else 3


def _seed_cmd(args: argparse.Namespace) -> int:
    settings = _settings()
    uri = _neo4j_or_exit(settings)
    return asyncio.run(
        _seed(
            settings,
            uri,
            demo=args.demo,
            synthetic=args.synthetic,
            reset=args.reset,
            only_if_empty=False,
        )
    )


def _token(args: argparse.Namespace) -> int:
    from dibx.auth.dev_issuer import DevIssuer

    settings = _settings()
    if not settings.dev_issuer:
        sys.exit("dibx: the development issuer is disabled (DIBX_DEV_ISSUER=false)")
    issuer = DevIssuer.from_path(settings.keys_file, settings.issuer, settings.audience)
    try:
        token = issuer.issue(
            subject=args.subject or f"cli-{args.nation.lower()}",
            client_id="dibx-cli",
            nation=args.nation.upper(),
            scopes=args.scope.split(),
            org=args.org,
            attributes=args.attr.split() if args.attr else (),
            ttl=args.ttl,
        )
    except ValueError as exc:
        sys.exit(f"dibx: {exc}")
    print(token)
    return 0


def _export(args: argparse.Namespace) -> int:
    from dibx.app import startup
    from dibx.auth import policy
    from dibx.commands import export as export_command

    settings = _settings()
    try:
        loaded = policy.load(settings.policy_file, startup.vocabulary(settings.reference_dir))
    except (policy.PolicyError, config.ConfigError) as exc:
        sys.exit(f"dibx: policy invalid: {exc}")
    uri = _neo4j_or_exit(settings)
    return asyncio.run(
        export_command.export(
            settings,
            uri,
            loaded,
            nation=args.nation,
            attrs=args.attr,
            as_of=args.as_of,
            fmt=args.format,
            out=args.out,
        )
    )


def _policy_check(_: argparse.Namespace) -> int:
    from dibx.app import startup
    from dibx.auth import policy

    settings = _settings()
    try:
        loaded = policy.load(settings.policy_file, startup.vocabulary(settings.reference_dir))
    except (policy.PolicyError, config.ConfigError) as exc:
        print(f"policy invalid: {exc}", file=sys.stderr)
        return 1
    print(f"policy {loaded.version} ok: {len(loaded.defaults)} default markings")
    return 0


def _schema(_: argparse.Namespace) -> int:
    from strawberry.printer import print_schema

    from dibx.schema import build_schema

    print(print_schema(build_schema()))
    return 0


def _operations_add(args: argparse.Namespace) -> int:
    """Register documents (GraphQL files, or manifests as graphql-codegen and relay-compiler
    write them) in the trusted-documents manifest, each checked against the schema."""
    from pathlib import Path

    from graphql import parse, validate

    from dibx.app import persisted
    from dibx.schema import build_schema

    settings = _settings()
    manifest = settings.trusted_documents_file
    schema = build_schema()._schema
    try:
        documents = persisted.read_manifest(manifest) if manifest.exists() else {}
        added: dict[str, str] = {}
        for name in args.files:
            path = Path(name)
            if path.suffix == ".json":
                found = persisted.read_manifest(path)
            else:
                text = path.read_text(encoding="utf-8")
                persisted.check_document(text, name)
                found = {persisted.document_hash(text): text}
            for digest, text in found.items():
                errors = validate(schema, parse(text))
                if errors:
                    raise persisted.ManifestError(f"{name}: {errors[0].message}")
                added[digest] = text
                print(f"{digest}  {name}")
    except (OSError, persisted.ManifestError) as exc:
        print(f"dibx: {exc}", file=sys.stderr)
        return 1
    persisted.write_manifest(manifest, {**documents, **added})
    print(f"{len(added)} document(s) registered in {manifest}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from dibx.commands import imports as command

    settings = _settings()
    return command.import_cmd(args, settings, _neo4j_or_exit(settings))


def _sample_files(args: argparse.Namespace) -> int:
    from dibx.commands import imports as command

    return command.sample_files_cmd(args, _settings())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dibx", description="Allied industrial-base data exchange")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (starts the embedded Neo4j if no URI is set)")
    serve.add_argument(
        "--demo", action="store_true", help="load reference and demo data into an empty database"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="API processes on the port (one Neo4j; see dibx.app.workers)",
    )
    serve.set_defaults(func=_serve)

    n4j = sub.add_parser("neo4j", help="the embedded Neo4j server")
    n4j.add_argument("action", choices=["start", "stop", "status"])
    n4j.set_defaults(func=_neo4j)

    seed = sub.add_parser("seed", help="load reference data, plus demo or synthetic data")
    seed.add_argument(
        "--demo", action="store_true", help="the demo graph (illustrative company facts)"
    )
    seed.add_argument(
        "--synthetic",
        type=_positive_int,
        metavar="SUPPLIERS",
        help="a synthetic graph of this many suppliers",
    )
    seed.add_argument("--reset", action="store_true", help="delete everything first")
    seed.set_defaults(func=_seed_cmd)

    token = sub.add_parser("token", help="issue a development access token")
    token.add_argument(
        "--nation", required=True, help="ISO 3166-1 alpha-3 code the caller acts for"
    )
    token.add_argument("--scope", default="supplier:read", help="space-separated scopes")
    token.add_argument("--attr", default="", help="space-separated caller attributes, e.g. FED")
    token.add_argument("--org", default=None)
    token.add_argument("--subject", default=None)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=_token)

    export = sub.add_parser("export", help="write a nation's releasable slice (import format)")
    export.add_argument("--nation", required=True, help="ISO 3166-1 alpha-3 code it is for")
    export.add_argument(
        "--attr",
        action="append",
        default=[],
        metavar="FIELDS",
        help="only these fields (comma-separated; `entity.field` for one entity); repeatable",
    )
    export.add_argument(
        "--as-of", help="the state in force then: YYYY-MM-DD (00:00 UTC) or a date-time"
    )
    export.add_argument("--format", choices=["jsonl", "csv", "graphml"], default="jsonl")
    export.add_argument("--out", help="file (a directory for csv); stdout if not given")
    export.set_defaults(func=_export)

    operations = sub.add_parser("operations", help="persisted operations (trusted documents)")
    ops = operations.add_subparsers(dest="action", required=True)
    add = ops.add_parser("add", help="register GraphQL documents or a client tool's manifest")
    add.add_argument("files", nargs="+", metavar="FILE", help=".graphql files or .json manifests")
    add.set_defaults(func=_operations_add)

    check = sub.add_parser("policy-check", help="validate the releasability policy file")
    check.set_defaults(func=_policy_check)

    schema = sub.add_parser("schema", help="print the GraphQL schema (SDL) the API serves")
    schema.set_defaults(func=_schema)

    from dibx.commands import imports as command

    command.add_parsers(sub, _positive_int)
    sub.choices["import"].set_defaults(func=_import)
    sub.choices["sample-files"].set_defaults(func=_sample_files)
    return p


def _logs_to_stderr() -> None:
    """Log lines of the one-shot commands go to stderr, as text: their stdout is a report or
    the data itself (`dibx export` writes JSON Lines there), which a warning from a retried
    transaction must not break. structlog's default printed them to stdout. `dibx serve`
    replaces this with JSON lines (`dibx.logs`)."""
    from dibx.logs import CurrentStderr

    structlog.reset_defaults()
    stream = CurrentStderr()  # write and flush are all PrintLogger uses of a TextIO
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _logs_to_stderr()
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
