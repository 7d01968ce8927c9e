"""api.serve: connections accepted from the listening socket uvicorn binds for several
workers get TCP_NODELAY, so keep-alive answers are not held back by Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn.config

from api import serve


def nodelay_of_accepted(bind) -> int:
    """Bind with `bind` as uvicorn does for --workers, accept one connection through
    asyncio as a uvicorn worker does, and read TCP_NODELAY on the accepted socket."""
    config = uvicorn.config.Config("api.app:app", host="127.0.0.1", port=0)
    listener = bind(config)

    async def run() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        value = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return value

    return asyncio.run(run())


def test_the_patched_listener_gives_accepted_connections_tcp_nodelay():
    assert nodelay_of_accepted(serve.bind_socket) != 0


def test_uvicorns_own_listener_does_not_which_is_why_api_serve_exists():
    if nodelay_of_accepted(serve._bind_socket) != 0:
        pytest.skip("this uvicorn sets TCP_NODELAY itself (Kludex/uvicorn#3149 fixed): api/serve.py can go")
    assert nodelay_of_accepted(serve.bind_socket) != 0
