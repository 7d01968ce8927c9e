"""A million observations stream out with a bounded memory increase.

The store holds 1,000,000 synthetic observations of DF_WORKPERM_VALID (bench/bigstore.py,
about 15 s to build). The API runs as a real uvicorn process, as in production, so that
its memory is measured apart from the client's: the peak resident set (VmHWM in
/proc/PID/status) after a small warm-up query is the baseline, and the peak after the
whole dataflow has been sent must stay within a generous bound of it. The client reads
the body in chunks, counts the rows and keeps nothing.

One backend (SQLite) is enough here: what could hold a response in memory is the API
(the serialisers, the response cache's tee, the middleware), which is the same code on
both backends, and both drivers are asked to stream (``stream_results``, server-side
cursor on PostgreSQL). A PostgreSQL store of a million rows would only double the time.

Linux only (reads /proc); skipped elsewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bigstore import build, series_keys  # noqa: E402

N = 1_000_000
BOUND_MB = 200  # peak RSS growth allowed while a whole million-observation response streams
FLOW = "/sdmx/2.1/data/DF_WORKPERM_VALID"

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh from the current RSS (Linux >= 4.0), so each response is measured
    on its own; where that is refused the peak so far stays the baseline (still a bound)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


@pytest.fixture(scope="module")
def big_server(tmp_path_factory, content):
    """A uvicorn process serving a store of a million observations; yields (base URL, pid)."""
    tmp = tmp_path_factory.mktemp("bigstore")
    url = f"sqlite:///{tmp / 'big.sqlite'}"
    assert build(url, N, content=content)["observations"] == N
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The production defaults otherwise (the response cache keeps a body up to 512 MiB,
    # spooled to a file as it streams out; the second request reads it back as a file).
    env = {**os.environ, "DATABASE_URL": url, "CACHE_DIR": str(tmp / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        # Warm up: imports, structure documents, connection pool, one small response.
        first_key = series_keys(content, "DF_WORKPERM_VALID", 1)[0]
        httpx.get(f"{base}{FLOW}/{first_key}?format=csvdata", timeout=30).raise_for_status()
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


class Counter:
    """Counts occurrences of `pattern` in a body read chunk by chunk (matches may straddle chunks)."""

    def __init__(self, pattern: bytes):
        self.pattern, self.tail, self.count, self.bytes = pattern, b"", 0, 0

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        data = self.tail + chunk
        self.count += data.count(self.pattern)
        self.tail = data[len(data) - len(self.pattern) + 1:] if len(self.pattern) > 1 else b""


@pytest.mark.parametrize("accept, row_marker, header_rows", [
    ("application/vnd.sdmx.data+csv;version=2.0.0", b"\n", 1),  # one line per observation
    ("application/vnd.sdmx.structurespecificdata+xml;version=2.1", b"<Obs ", 0),
], ids=["sdmx-csv-2.0", "sdmx-ml-2.1-structure-specific"])
def test_a_million_observations_stream_in_bounded_memory(big_server, accept, row_marker, header_rows):
    base, pid = big_server
    for attempt, expected_cache in enumerate(("miss", "hit")):  # built, then from the cache's file
        reset_peak(pid)
        before = peak_rss_mb(pid)
        rows = Counter(row_marker)
        # identity: measure the serialiser's streaming, not gzip's (gzip also streams, chunk by chunk)
        with httpx.stream("GET", f"{base}{FLOW}", headers={"Accept": accept, "Accept-Encoding": "identity"},
                          timeout=300) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(accept.split(";")[0])
            assert response.headers["x-cache"] == expected_cache
            for chunk in response.iter_raw(1 << 20):
                rows.feed(chunk)
        growth = peak_rss_mb(pid) - before
        print(f"\n{accept} ({expected_cache}): {rows.bytes / 1e6:.0f} MB sent, {rows.count - header_rows} rows, "
              f"server peak RSS {before:.0f} MB before, +{growth:.0f} MB while streaming")

        assert rows.count - header_rows == N
        assert rows.bytes > 50e6  # the body is far bigger than what the server may add
        assert growth < BOUND_MB, f"the server's peak memory grew by {growth:.0f} MB streaming {rows.bytes / 1e6:.0f} MB"
        if expected_cache == "hit":
            assert int(response.headers["content-length"]) == rows.bytes
