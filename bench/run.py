"""Benchmarks: the API's data queries against baselines measured in the same run.

    make bench            # or: .venv/bin/python bench/run.py [--seconds 3] [--connections 8]

What runs (see bench/README.md for what each figure means):

* one store of 1,000,000 synthetic observations of DF_WORKPERM_VALID (bench/bigstore.py);
* three uvicorn processes, started the same way (one worker, default loop and HTTP
  implementation, log level warning): the API with its response cache (production
  settings), the API with the response cache off (``CACHE_MAX_ENTRY=0``: every request
  queries the store and serialises), and the bare route (bench/bare.py) returning, from
  memory, the very bytes the API returned;
* a small query (4 series x 25 quarters = 100 observations) in each data format, cached
  and uncached, driven by a small keep-alive HTTP/1.1 client on asyncio with several
  connections at once: requests per second, latency p50 and p99;
* the whole dataflow (1,000,000 observations) in each format from the uncached API: seconds
  to the last byte and MB/s, against the bare route sending the same bytes and against
  pandas ``DataFrame.to_csv`` of the same million rows;
* the peer sdmxlib-rest, from ../shared/sdmx-libraries.md (measured elsewhere, not in
  this run; see README).

Requests ask for ``Accept-Encoding: identity`` (the bare route does not compress).
Figures and ratios are printed; the issue's aims are reported as met or not met, never
asserted: these 2-core machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bigstore import build, series_keys  # noqa: E402
from publisher.content import load  # noqa: E402

FLOW = "DF_WORKPERM_VALID"
N = 1_000_000

#: (label, Accept header, file suffix), one per data format.
FORMATS = [
    ("SDMX-ML 2.1 structure-specific", "application/vnd.sdmx.structurespecificdata+xml;version=2.1", "xml"),
    ("SDMX-ML 2.1 generic", "application/vnd.sdmx.genericdata+xml;version=2.1", "xml"),
    ("SDMX-ML 3.0 structure-specific", "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0", "xml"),
    ("SDMX-JSON 2.0", "application/vnd.sdmx.data+json;version=2.0.0", "json"),
    ("SDMX-CSV 2.0", "application/vnd.sdmx.data+csv;version=2.0.0", "csv"),
    ("SDMX-CSV 1.0", "application/vnd.sdmx.data+csv;version=1.0.0", "csv"),
]

#: Formats whose million-observation answer is also timed row by row (ARROW_READS=0).
ROW_BASELINE = ("SDMX-CSV 2.0", "SDMX-ML 2.1 structure-specific")

#: The peer, measured elsewhere (../shared/sdmx-libraries.md), not in this run.
PEER_SMALL_RPS = 70.0  # sdmxlib-rest with a thin data route, 100 observations, 8 connections
PEER_MILLION_CSV_S = 0.32  # 1M rows as SDMX-CSV


# --- servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m uvicorn APP` in a subprocess, the same set-up for the API and the bare route."""

    def __init__(self, app: str, env: dict[str, str]):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"], cwd=ROOT, env={**os.environ, **env})
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{app} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- a small keep-alive HTTP/1.1 load generator ----------------------------------------------

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read one response (Content-Length or chunked); return (status, body bytes)."""
    status = int((await reader.readline()).split()[1])
    length, chunked = None, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    size = 0
    if chunked:
        while True:
            n = int((await reader.readline()).split(b";")[0], 16)
            if n == 0:
                await reader.readline()
                break
            size += len(await reader.readexactly(n + 2)) - 2
    elif length:
        size = len(await reader.readexactly(length))
    return status, size


async def _load(base: str, path: str, accept: str, seconds: float, connections: int):
    host, port = base.split("//")[1].split(":")
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
               "Accept-Encoding: identity\r\nUser-Agent: migstat-bench\r\n\r\n").encode()
    latencies: list[float] = []
    errors = 0

    async def worker(deadline: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                writer.write(request)
                status, _ = await _read_response(reader)
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    # Warm-up (not counted): connections open, caches filled.
    await asyncio.gather(*[worker(time.perf_counter() + min(0.5, seconds / 4)) for _ in range(connections)])
    latencies.clear()
    start = time.perf_counter()
    await asyncio.gather(*[worker(start + seconds) for _ in range(connections)])
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


def load_test(base: str, path: str, accept: str, seconds: float, connections: int) -> dict:
    rps, lat, errors = asyncio.run(_load(base, path, accept, seconds, connections))
    if errors:
        raise RuntimeError(f"{errors} requests to {path} ({accept}) did not answer 200")
    qs = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    return {"rps": rps, "p50": qs[49] * 1000, "p99": qs[98] * 1000, "n": len(lat)}


def download(url: str, accept: str | None, keep: bool = False) -> tuple[float, int, bytes | None]:
    """Seconds to the last byte of one GET, bytes received, and the body if `keep`."""
    headers = {"Accept-Encoding": "identity", **({"Accept": accept} if accept else {})}
    parts: list[bytes] = []
    size = 0
    t = time.perf_counter()
    with httpx.stream("GET", url, headers=headers, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(1 << 20):
            size += len(chunk)
            if keep:
                parts.append(chunk)
    return time.perf_counter() - t, size, b"".join(parts) if keep else None


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- the run ------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0, help="per small-query measurement")
    ap.add_argument("--connections", type=int, default=8, help="concurrent connections (the peer's figure used 8)")
    ap.add_argument("--observations", type=int, default=N)
    ap.add_argument("--keep", help="keep the store and bodies in this directory")
    args = ap.parse_args()

    started = time.perf_counter()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="migstat-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"# migstat bench, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")
    content = load()
    store = tmp / "big.sqlite"
    store.unlink(missing_ok=True)
    built = build(f"sqlite:///{store}", args.observations, content=content)
    print(f"store: {built['observations']:,} observations of {FLOW} ({built['series']:,} series x "
          f"{built['periods']} quarters), SQLite, built in {built['seconds']:.1f} s (bench/bigstore.py)")

    # Small query: the first 4 series (every SEX of one ECON_ACTIVITY.AGE.EDUCATION_LEV), 25 quarters.
    first = series_keys(content, FLOW, 1)[0].split(".")
    small_path = f"/sdmx/2.1/data/{FLOW}/{first[0]}.{first[1]}.{first[2]}.{first[3]}.?startPeriod=2003-Q4"
    big_path = f"/sdmx/2.1/data/{FLOW}"

    db = {"DATABASE_URL": f"sqlite:///{store}"}
    servers: list[Server] = []
    try:
        cached = Server("api.app:app", {**db, "CACHE_DIR": str(tmp / "cache-on")})
        servers.append(cached)
        uncached = Server("api.app:app", {**db, "CACHE_DIR": str(tmp / "cache-off"), "CACHE_MAX_ENTRY": "0"})
        servers.append(uncached)

        # The bodies the bare route will serve: the API's own answers, captured now.
        bare_dir = tmp / "bare"
        bare_dir.mkdir(exist_ok=True)
        index, small_obs = {}, None
        for i, (label, accept, _) in enumerate(FORMATS):
            r = httpx.get(cached.base + small_path, headers={"Accept": accept, "Accept-Encoding": "identity"},
                          timeout=60)
            r.raise_for_status()
            (bare_dir / f"small{i}").write_bytes(r.content)
            index[f"small{i}"] = r.headers["content-type"]
            if label == "SDMX-CSV 2.0":
                small_obs = r.content.count(b"\n") - 1

        # Million observations, uncached: seconds to the last byte, per format, best of 2
        # (after one small query: the dataflow's series index is read once per release).
        download(uncached.base + small_path, None)
        million = []
        for i, (label, accept, _) in enumerate(FORMATS):
            seconds, size, body = download(uncached.base + big_path, accept, keep=True)
            seconds = min(seconds, download(uncached.base + big_path, accept)[0])
            (bare_dir / f"big{i}").write_bytes(body)
            index[f"big{i}"] = accept.split(";")[0]
            if label == "SDMX-CSV 2.0":
                big_csv = body
            million.append({"label": label, "s": seconds, "mb": size / 1e6})
            del body
        (bare_dir / "index.json").write_text(json.dumps(index))

        # From the response cache (the second request for the same answer reads the file
        # the first one left in the cache).
        for m, (label, accept, _) in zip(million, FORMATS):
            download(cached.base + big_path, accept)
            m["cached_s"] = download(cached.base + big_path, accept)[0]

        # The same, read and written row by row (ARROW_READS=0): what the columns save.
        rows = Server("api.app:app", {**db, "CACHE_DIR": str(tmp / "cache-rows"), "CACHE_MAX_ENTRY": "0",
                                      "ARROW_READS": "0"})
        servers.append(rows)
        download(rows.base + small_path, None)
        for m, (label, accept, _) in zip(million, FORMATS):
            if label in ROW_BASELINE:
                m["rows_s"] = download(rows.base + big_path, accept)[0]
        rows.stop()

        bare = Server("bench.bare:app", {"BENCH_BARE_DIR": str(bare_dir)})
        servers.append(bare)

        small = []
        for i, (label, accept, _) in enumerate(FORMATS):
            b = load_test(bare.base, f"/bare/small{i}", accept, args.seconds, args.connections)
            c = load_test(cached.base, small_path, accept, args.seconds, args.connections)
            u = load_test(uncached.base, small_path, accept, args.seconds, args.connections)
            small.append({"label": label, "bare": b, "cached": c, "uncached": u,
                          "bytes": (bare_dir / f"small{i}").stat().st_size})
        for i, m in enumerate(million):
            m["bare_s"] = min(download(f"{bare.base}/bare/big{i}", None)[0] for _ in range(2))
    finally:
        for s in servers:
            s.stop()

    frame = pd.read_csv(io.BytesIO(big_csv))
    del big_csv
    pandas_s = []
    for _ in range(2):
        t = time.perf_counter()
        text = frame.to_csv(index=False)
        pandas_s.append(time.perf_counter() - t)
    pandas_s, pandas_mb = min(pandas_s), len(text.encode()) / 1e6
    del text

    # --- report -----------------------------------------------------------------------------
    print(f"\n## Small query: {small_obs} observations ({small_path}), {args.connections} connections, "
          f"{args.seconds:g} s each")
    print(f"{'format':32} {'bytes':>7} | {'bare req/s':>10} {'p50':>6} {'p99':>6} | "
          f"{'cached':>8} {'p50':>6} {'p99':>6} {'ratio':>6} | {'uncached':>8} {'p50':>6} {'p99':>6} {'ratio':>6} {'/peer':>6}")
    for r in small:
        b, c, u = r["bare"], r["cached"], r["uncached"]
        print(f"{r['label']:32} {r['bytes']:7d} | {b['rps']:10.0f} {b['p50']:6.1f} {b['p99']:6.1f} | "
              f"{c['rps']:8.0f} {c['p50']:6.1f} {c['p99']:6.1f} {c['rps'] / b['rps']:6.2f} | "
              f"{u['rps']:8.0f} {u['p50']:6.1f} {u['p99']:6.1f} {u['rps'] / b['rps']:6.2f} "
              f"{u['rps'] / PEER_SMALL_RPS:6.1f}")
    print("  req/s: requests per second; p50/p99: latency in ms; ratio: ours / bare route; "
          f"/peer: ours / sdmxlib-rest's {PEER_SMALL_RPS:g} req/s (measured elsewhere)")

    print(f"\n## Whole dataflow: {args.observations:,} observations, uncached, one request, seconds to the last byte")
    print(f"{'format':32} {'MB':>7} {'s':>7} {'MB/s':>7} | {'bare s':>7} {'ratio':>6} | "
          f"{'/pandas':>7} | {'/peer CSV':>9} | {'rows s':>7} {'/rows':>6} | {'cached s':>8}")
    for m in million:
        by_rows = (f"{m['rows_s']:7.2f} {m['s'] / m['rows_s']:6.2f}" if "rows_s" in m else f"{'':7} {'':6}")
        print(f"{m['label']:32} {m['mb']:7.1f} {m['s']:7.2f} {m['mb'] / m['s']:7.1f} | {m['bare_s']:7.2f} "
              f"{m['s'] / m['bare_s']:6.1f} | {m['s'] / pandas_s:7.2f} | {m['s'] / PEER_MILLION_CSV_S:9.1f} | "
              f"{by_rows} | {m['cached_s']:8.2f}")
    print(f"pandas DataFrame.to_csv, same {len(frame):,} rows (SDMX-CSV 2.0 columns): {pandas_s:.2f} s, "
          f"{pandas_mb:.1f} MB, {pandas_mb / pandas_s:.1f} MB/s")
    print(f"peer sdmxlib-rest (measured elsewhere, not in this run): {PEER_MILLION_CSV_S} s for 1M rows as SDMX-CSV")
    print("  s: best of 2; ratio: ours / bare route sending the same bytes; /pandas: ours / pandas to_csv; "
          "/peer CSV: ours / the peer's 0.32 s; rows s, /rows: the same answer read and written row by "
          "row (ARROW_READS=0), one request, and ours / that; cached s: the same answer again from "
          "the API with its response cache (kept as a file by the first request)")

    print("\n## Aims of issue 7 (reported, not asserted)")
    worst = min(small, key=lambda r: r["cached"]["rps"] / r["bare"]["rps"])
    print(f"- cached small queries within 80% of the bare route: "
          f"{met(all(r['cached']['rps'] >= 0.8 * r['bare']['rps'] for r in small))} "
          f"(lowest ratio {worst['cached']['rps'] / worst['bare']['rps']:.2f}, {worst['label']})")
    slowest = min(small, key=lambda r: r["uncached"]["rps"])
    print(f"- uncached small queries >= 10x the peer's {PEER_SMALL_RPS:g} req/s ({10 * PEER_SMALL_RPS:g}): "
          f"{met(all(r['uncached']['rps'] >= 10 * PEER_SMALL_RPS for r in small))} "
          f"(lowest {slowest['uncached']['rps']:.0f} req/s, {slowest['label']})")
    csv20 = next(m for m in million if m["label"] == "SDMX-CSV 2.0")
    print(f"- 1M observations as SDMX-CSV no slower than the peer's {PEER_MILLION_CSV_S} s: "
          f"{met(csv20['s'] <= PEER_MILLION_CSV_S)} (built: {csv20['s']:.2f} s; "
          f"from the response cache: {csv20['cached_s']:.2f} s, {met(csv20['cached_s'] <= PEER_MILLION_CSV_S)})")
    for m in million:
        if not m["label"].startswith("SDMX-CSV"):
            print(f"- 1M observations as {m['label']} within 3x the peer's CSV ({3 * PEER_MILLION_CSV_S:.2f} s): "
                  f"{met(m['s'] <= 3 * PEER_MILLION_CSV_S)} (built: {m['s']:.2f} s; from the response cache: "
                  f"{m['cached_s']:.2f} s, {met(m['cached_s'] <= 3 * PEER_MILLION_CSV_S)})")
    print(f"\n(bench took {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
