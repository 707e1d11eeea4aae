"""Drive the real ASGI app in-process: real tokens, real policy, real Neo4j, memory audit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import strawberry

from dibx import config
from dibx import data as shipped
from dibx.app import Runtime, build_runtime, create_app, schema_for
from dibx.auth.principal import ALL_SCOPES
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Model
from dibx.graph.records import Dataset
from dibx.graph.writes import write_dataset
from dibx.services.audit import AuditSink, MemorySink

READ = ("supplier:read", "supply_chain:read")

# Schemas built in this process, by what they derive from: a schema is immutable once built,
# and building one costs ~0.4 s, paid before by every test that made an `Api`. The model is
# kept in the value so its id is never reused while the entry lives.
_SCHEMAS: dict[tuple[int, int, int, int, int, bool, int], tuple[Model, strawberry.Schema]] = {}


def _schema(settings: config.Settings, model: Model) -> strawberry.Schema:
    key = (
        id(model),
        settings.max_depth,
        settings.max_aliases,
        settings.max_tokens,
        settings.max_list_args,
        settings.introspection,
        settings.large_document_bytes,
    )
    if key not in _SCHEMAS:
        _SCHEMAS[key] = (model, schema_for(settings, model))
    return _SCHEMAS[key][1]


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def releasability(self) -> dict[str, Any]:
        return dict((self.body.get("extensions") or {}).get("releasability") or {})


class Api:
    def __init__(
        self,
        graph: Graph,
        tmp: Path,
        env: Mapping[str, str] | None = None,
        sink: AuditSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        model: Model = MODEL,
    ) -> None:
        """`sink` replaces the memory audit sink (`self.audit` then stays empty); `clock`
        drives the rate limits' buckets; `model` is the model of record the schema and its
        reads derive from."""
        base = {
            "DIBX_ENV": "test",
            "DIBX_DATA_DIR": str(tmp),
            # Tests check what analyses answer, not how fast: the first run of each query plan
            # can take seconds on a busy machine. Tests of the limit itself set their own.
            "DIBX_ANALYTICS_TIME_LIMIT": "120",
            # Tests send hundreds of requests a second from one address and token; the rate
            # limits' own tests (test_rate_limits.py) set theirs.
            "DIBX_RATE_PER_ADDRESS": "0",
            "DIBX_RATE_PER_TOKEN": "0",
        }
        settings = config.load({**base, **(env or {})})
        self.audit = MemorySink()
        self.graph = graph
        self.runtime: Runtime = build_runtime(
            settings, graph=graph, audit=sink or self.audit, model=model
        )
        self.app = create_app(
            self.runtime, own_graph=False, clock=clock, schema=_schema(settings, model)
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://dibx.test"
        )
        # query()'s default tokens: (caller, scopes, attributes) -> (minted at, token).
        self._bearers: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[float, str]] = {}

    @staticmethod
    def shipped_policy() -> Path:
        return shipped.policy_file()

    async def load(self, dataset: Dataset) -> None:
        await write_dataset(self.graph, dataset, model=self.runtime.model)
        self.runtime.memberships.invalidate()

    def token(
        self,
        nation: str = "USA",
        scopes: Iterable[str] = READ,
        attributes: Iterable[str] = (),
        **kw: Any,
    ) -> str:
        assert self.runtime.issuer is not None
        return self.runtime.issuer.issue(
            subject=kw.pop("subject", f"user-{nation.lower()}"),
            client_id=kw.pop("client_id", "test"),
            nation=nation,
            scopes=scopes,
            attributes=attributes,
            org=kw.pop("org", "test-org"),
            **kw,
        )

    def bearer(
        self, nation: str = "USA", scopes: Iterable[str] = READ, attributes: Iterable[str] = ()
    ) -> str:
        """A token for the caller, minted once and reused by later requests of the same caller
        (RS256 signing is most of a small request's CPU); minted again after half its life."""
        assert self.runtime.issuer is not None
        key = (nation, tuple(sorted(scopes)), tuple(sorted(attributes)))
        now = time.monotonic()
        held = self._bearers.get(key)
        if held is None or now - held[0] > self.runtime.issuer.token_ttl / 2:
            held = (now, self.token(nation, key[1], key[2]))
            self._bearers[key] = held
        return held[1]

    async def query(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        nation: str = "USA",
        scopes: Iterable[str] = READ,
        attributes: Iterable[str] = (),
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        bearer = token if token is not None else self.bearer(nation, scopes, attributes)
        response = await self.client.post(
            "/graphql",
            json={"query": document, "variables": dict(variables or {})},
            headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
        )
        return Reply(response.status_code, response.json(), response.headers)

    async def close(self) -> None:
        # A POST /imports starts this process's job loop (the in-process app has no lifespan).
        await self.runtime.services.imports.stop()
        await self.client.aclose()


ALL = tuple(sorted(ALL_SCOPES))
