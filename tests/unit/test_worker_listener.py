"""`dibx serve --workers N` serves on a socket the supervisor binds: connections accepted on
it must get TCP_NODELAY, or every keep-alive response after the first waits about 40 ms for
the client's delayed ACK (Nagle's algorithm; uvicorn issue 3149).

The worker's event loop accepts on that socket as asyncio does for uvicorn (`sockets=[...]`),
and asyncio sets TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP. The socket is
also passed through the pickling `multiprocessing` uses to hand it to a spawned worker.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
from multiprocessing import reduction

import pytest

from dibx import config, neo4j_server
from dibx.app import workers


def _settings() -> config.Settings:
    port = str(neo4j_server.free_port())
    return config.load({"DIBX_ENV": "test", "DIBX_HOST": "127.0.0.1", "DIBX_PORT": port})


async def _nodelay_of_accepted(listening: socket.socket) -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listening)
    async with server:
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()


def _as_a_spawned_worker_gets_it(sock: socket.socket) -> socket.socket:
    buffer = reduction.ForkingPickler.dumps(sock)
    got: socket.socket = pickle.loads(buffer)  # noqa: S301 - pickled by this test
    sock.close()
    return got


@pytest.mark.parametrize("passed", [False, True], ids=["listener", "as-passed-to-a-worker"])
async def test_connections_accepted_by_workers_have_tcp_nodelay(passed: bool) -> None:
    sock = workers.listener(_settings())
    if passed:
        sock = _as_a_spawned_worker_gets_it(sock)
    assert sock.proto == socket.IPPROTO_TCP
    assert await _nodelay_of_accepted(sock) != 0
