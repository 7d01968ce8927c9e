"""Serve the API with uvicorn: ``python -m api.serve api.app:app --workers 4 ...`` (the same
arguments as the ``uvicorn`` command).

Why not plain ``uvicorn``: with ``--workers N`` uvicorn binds the listening socket itself
with protocol 0; the connections it accepts inherit that, and asyncio then never sets
TCP_NODELAY on them (it does so only for sockets of protocol IPPROTO_TCP). Every keep-alive
response after the first then waits for the client's delayed ACK: about 40 ms added to
each request (measured by bench/load.py: 221 req/s instead of 1,470 on 10 connections).
This is uvicorn issue Kludex/uvicorn#3149; remove this module when it is fixed.
"""

from __future__ import annotations

import socket
import sys

import uvicorn.config

_bind_socket = uvicorn.config.Config.bind_socket


def bind_socket(self: uvicorn.config.Config) -> socket.socket:
    """uvicorn's listening socket, re-made with protocol IPPROTO_TCP (same descriptor)."""
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


def patch() -> None:
    uvicorn.config.Config.bind_socket = bind_socket


def main() -> None:
    from uvicorn.main import main as uvicorn_main

    patch()
    sys.argv[0] = "uvicorn"
    uvicorn_main()


if __name__ == "__main__":
    main()
