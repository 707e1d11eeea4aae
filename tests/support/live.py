"""Subscriptions in tests: the real app served by uvicorn on a free port of this event loop,
and a small graphql-transport-ws client on the `websockets` library.

The server runs in the test's own loop (the session's Neo4j driver lives there); the client
speaks the protocol message by message, so tests can stop reading, drop the socket, or look
at close codes. Waits are bounded (`WAIT_S`) only to fail instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.api import Api

WAIT_S = 60.0
PROTOCOL = "graphql-transport-ws"

CHANGES = """
subscription Live($after: String, $types: [ChangeType!], $filter: ChangeFilter) {
  changes(after: $after, types: $types, filter: $filter) {
    cursor type kind id start end marking committedAt
    fields { field value released marking }
  }
}
"""

QUERY = """
query Feed($after: String, $first: Int, $types: [ChangeType!], $filter: ChangeFilter) {
  changes(after: $after, first: $first, types: $types, filter: $filter) {
    changes {
      cursor type kind id start end marking committedAt
      fields { field value released marking }
    }
    endCursor hasNextPage
  }
}
"""


@contextlib.asynccontextmanager
async def serving(api: Api, *, send_buffer: int | None = None) -> AsyncIterator[str]:
    """The app of `api` on 127.0.0.1:<free port>; yields the ws:// URL of /graphql.
    `send_buffer` fixes the kernel send buffer of every accepted socket (no autotuning), so a
    client that stops reading stalls the server's sends after a few kilobytes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(api.app, log_config=None, lifespan="off", ws="auto")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT_S)
        listener.close()
        if api.runtime.live is not None:
            await api.runtime.live.close()


@dataclass
class Closed:
    code: int | None
    reason: str


class LiveClient:
    """One socket. `init` sends connection_init and returns the ack, or `Closed`."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.socket = ws

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(
        cls, url: str, *, receive_buffer: int | None = None, **kw: Any
    ) -> AsyncIterator[LiveClient]:
        """`receive_buffer` shrinks the client's kernel buffer (a slow reader fills up fast)."""
        if receive_buffer is not None:
            host, port = urlsplit(url).hostname, urlsplit(url).port
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            raw.connect((host, port))
            raw.setblocking(False)
            kw["sock"] = raw
        protocols = [Subprotocol(PROTOCOL)]
        async with connect(url, subprotocols=protocols, open_timeout=WAIT_S, **kw) as ws:
            yield cls(ws)

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self) -> dict[str, Any] | Closed:
        try:
            raw = await asyncio.wait_for(self.socket.recv(), WAIT_S)
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return Closed(frame.code if frame else None, frame.reason if frame else "")
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, token: str | None, **payload: Any) -> dict[str, Any] | Closed:
        body = dict(payload)
        if token is not None:
            body["Authorization"] = f"Bearer {token}"
        await self.send({"type": "connection_init", "payload": body})
        return await self.receive()

    async def subscribe(
        self, variables: Mapping[str, Any] | None = None, document: str = CHANGES
    ) -> str:
        sid = str(next(self._ids))
        payload = {"query": document, "variables": dict(variables or {})}
        await self.send({"id": sid, "type": "subscribe", "payload": payload})
        return sid

    async def events(self, count: int) -> list[dict[str, Any]]:
        """The next `count` changes pushed (fails on anything else)."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = await self.receive()
            assert isinstance(message, dict), f"closed after {len(found)} events: {message}"
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            found.append(message["payload"]["data"]["changes"])
        return found


async def query_all(
    api: Api, token: str, variables: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Every change the `changes` query lists after `variables["after"]`, and its end cursor."""
    found: list[dict[str, Any]] = []
    args = {"first": 100, **dict(variables or {})}
    while True:
        reply = await api.query(QUERY, args, token=token)
        assert reply.status == 200, reply.body
        assert not reply.errors, reply.body
        page = reply.data["changes"]
        found.extend(page["changes"])
        args["after"] = page["endCursor"]
        if not page["hasNextPage"]:
            return found, page["endCursor"]
