"""Benchmarks: the API's data queries against baselines measured in the same run.

Prints requests per second and ratios (never absolute pass/fail: these 2-core machines
are noisy). Baselines:
  * bare route: a FastAPI route returning the same bytes from memory, on the same
    uvicorn set-up (what the stack allows);
  * pandas: DataFrame.to_csv on the same observations (what serialisation allows).

    make bench            # or: .venv/bin/python bench/run.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from publisher.content import load  # noqa: E402
from publisher.demo import generate  # noqa: E402
from publisher.extract import read_extract  # noqa: E402
from publisher.publish import publish  # noqa: E402
from publisher.staging import ingest  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402


def serve(app) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def rate(client: httpx.Client, url: str, seconds: float, *, unique: bool = False) -> float:
    """Sequential requests per second for `seconds` (unique=True defeats the cache)."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        r = client.get(url + (f"&nocache={n}" if unique else ""))
        r.raise_for_status()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="migstat-bench-"))
    url = f"sqlite:///{tmp}/store.sqlite"
    content = load()
    engine = make_engine(url)
    upgrade(engine)
    for flow_id, path in generate(content, tmp / "demo"):
        ingest(engine, read_extract(path, content.dataflow(flow_id)))
    publish(engine, content, "bench")

    api = create_app(Settings(database_url=url, cache_dir=str(tmp / "cache"), cache_size=2**30,
                              cache_max_entry=2**27))
    _, base = serve(api)
    client = httpx.Client(timeout=60)
    small = f"{base}/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU.F._T._T?format=csv"
    large = f"{base}/sdmx/2.1/data/DF_WORKPERM_VALID?format=csv"
    small_body = client.get(small).content
    large_body = client.get(large).content

    bare = FastAPI()

    @bare.get("/small")
    def _small() -> Response:
        return Response(small_body, media_type="text/csv")

    @bare.get("/large")
    def _large() -> Response:
        return Response(large_body, media_type="text/csv")

    _, bare_base = serve(bare)
    rows = []
    n_large = large_body.count(b"\n") - 1
    bare_small = rate(client, f"{bare_base}/small?x=1", args.seconds)
    bare_large = rate(client, f"{bare_base}/large?x=1", args.seconds)
    for label, target, baseline in (
        ("small query (1 series, 28 obs), cached", rate(client, small, args.seconds), bare_small),
        ("small query, uncached", rate(client, small, args.seconds, unique=True), bare_small),
        (f"whole dataflow ({n_large} obs), cached", rate(client, large, args.seconds), bare_large),
        ("whole dataflow, uncached", rate(client, large, args.seconds, unique=True), bare_large),
    ):
        rows.append((label, target, baseline, target / baseline))

    print(f"{'query (SDMX-CSV 2.0, sequential)':48} {'req/s':>8} {'bare req/s':>11} {'ratio':>6}")
    for label, target, baseline, ratio in rows:
        print(f"{label:48} {target:8.1f} {baseline:11.1f} {ratio:6.2f}")

    # Serialisation alone: the API's whole uncached path vs pandas.to_csv of the same rows.
    frame = pd.read_csv(io.BytesIO(large_body), dtype=str)
    t0 = time.perf_counter()
    for _ in range(5):
        frame.to_csv(index=False)
    pandas_s = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for i in range(5):
        client.get(large + f"&nocache=p{i}").raise_for_status()
    api_s = (time.perf_counter() - t0) / 5
    print(f"\n{len(frame)} observations as CSV: API uncached {api_s * 1000:.1f} ms "
          f"(query + serialise + HTTP), pandas to_csv {pandas_s * 1000:.1f} ms, ratio {api_s / pandas_s:.2f}")


if __name__ == "__main__":
    main()
