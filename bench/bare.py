"""The bare-route baseline: a FastAPI route returning fixed bytes from memory.

Served by uvicorn exactly as the API is (one process, same flags), so that the API's
throughput can be compared with what the stack itself allows. The bodies are read at
start from ``BENCH_BARE_DIR``: ``index.json`` maps a name to a media type, and the file
of that name holds the body (captured from the API in the same benchmark run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

_dir = Path(os.environ.get("BENCH_BARE_DIR", "."))
_index = json.loads((_dir / "index.json").read_text()) if (_dir / "index.json").exists() else {}
BODIES = {name: ((_dir / name).read_bytes(), media) for name, media in _index.items()}

app = FastAPI()


@app.get("/health")
def health() -> Response:
    return Response(b"ok", media_type="text/plain")


@app.get("/bare/{name}")
def bare(name: str) -> Response:
    body, media = BODIES[name]
    return Response(body, media_type=media)
