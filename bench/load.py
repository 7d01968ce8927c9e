"""Load test: the API under 200 concurrent connections, with wrk, and the promise it keeps.

    .venv/bin/python bench/load.py                      # 60 s, 200 connections, SQLite
    .venv/bin/python bench/load.py --duration 20 --connections 100
    .venv/bin/python bench/load.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test

What runs:

* **The store**: the demonstration data published into a temporary store. On SQLite,
  a copy (SQLite backup API) of ``var/migstat.sqlite`` when it exists (read, never
  written), else the demonstration extracts generated, ingested and published into a
  fresh file, as ``tests/conftest.py``'s ``publish_demo`` does. With ``--database``
  (PostgreSQL), a schema of our own on that server, the demonstration published into
  it, dropped at the end.
* **The API**: ``python -m uvicorn api.app:app --workers 2`` on a free port, production
  settings (response caches on), ``CACHE_DIR`` in a temporary directory.
* **The load**: ``wrk -t2 -c200 -d60s --latency -s mix.lua``. The Lua script rotates
  through a mix of 22 requests (bench/load.py's ``MIX``): SDMX data through REST v1.5
  and v2 paths in six formats (Accept headers and ``format=``), keys with wildcards,
  structures, availability, the friendly API, the release calendar, the DCAT
  catalogue; one request whose ``lastNObservations`` changes every time so that it
  always misses the response caches (queries the store and serialises); and four
  deliberately bad requests that must be answered 4xx. Every request is first sent
  once with httpx and its status checked (the good ones 2xx, the bad ones their 4xx).
* **A baseline in the same run**: the same mix with 10 connections for 10 s, so that
  the figures under load can be read as ratios (these 2-core machines are noisy, and
  wrk runs on the same two cores as the two API workers).

The Lua script counts, per wrk thread, the requests it sent of each kind (good, bad)
and the statuses it received per class; ``done()`` prints them. wrk itself counts 4xx
as "Non-2xx or 3xx responses", so the expected 4xx are told apart from the others: the
bad requests sent bound the 4xx that may come back (at most one in flight per
connection when the run stops).

**The promise: zero 5xx, zero socket errors** (connect, read, write, timeout), and no
4xx beyond the bad requests sent. The script exits 1 otherwise (also when the baseline
breaks it), 0 when kept. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


CSV2 = "application/vnd.sdmx.data+csv;version=2.0.0"
CSV1 = "application/vnd.sdmx.data+csv;version=1.0.0"
JSON2 = "application/vnd.sdmx.data+json;version=2.0.0"
SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
GEN21 = "application/vnd.sdmx.genericdata+xml;version=2.1"
SS30 = "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0"
STRUCT21 = "application/vnd.sdmx.structure+xml;version=2.1"
STRUCTJSON = "application/vnd.sdmx.structure+json;version=2.0.0"

#: (label, path, Accept header or None, expected status class or exact status).
#: "2xx" for a good request; an exact 4xx status for a deliberately bad one.
#: "{n}" in a path is replaced by a number that changes on every request (cache miss).
MIX: list[tuple[str, str, str | None, str]] = [
    ("v1 data, OR key, CSV 2.0", "/sdmx/2.1/data/AZ_SMS,DF_RESPERM_TEMP,1.0/Q.RU+TR.F._T._T?startPeriod=2024-Q1", CSV2, "2xx"),
    ("v1 data, wildcards, SDMX-ML 2.1 SS", "/sdmx/2.1/data/DF_RESPERM_TEMP/Q...._T", SS21, "2xx"),
    ("v1 data, generic 2.1", "/sdmx/2.1/data/DF_WORKPERM_VALID/Q._T._T._T.?startPeriod=2024-Q1", GEN21, "2xx"),
    ("v1 data, format=csv", "/sdmx/2.1/data/DF_WORKPERM_ISSUED/all?format=csv&startPeriod=2023", None, "2xx"),
    ("v1 data, CSV 1.0", "/sdmx/2.1/data/DF_MIGR_PERM?lastNObservations=4", CSV1, "2xx"),
    ("v2 data, wildcard key, JSON", "/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/Q.*.F.*._T?c[TIME_PERIOD]=ge:2024-Q1", JSON2, "2xx"),
    ("v2 data, SDMX-ML 3.0", "/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM_VALID/1.0/*?c[SEX]=F", SS30, "2xx"),
    ("v2 data, whole flow, CSV 2.0", "/sdmx/3.0/data/dataflow/AZ_SMS/DF_NET_MIGR/1.0", CSV2, "2xx"),
    ("v1 data, always a cache miss", "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU..._T?lastNObservations={n}", CSV2, "2xx"),
    ("v1 dataflows", "/sdmx/2.1/dataflow/AZ_SMS", STRUCT21, "2xx"),
    ("v2 dataflow, references=all", "/sdmx/3.0/structure/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?references=all", STRUCTJSON, "2xx"),
    ("v1 codelists", "/sdmx/2.1/codelist/AZ_SMS", STRUCT21, "2xx"),
    ("v2 availability", "/sdmx/3.0/availability/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*", None, "2xx"),
    ("v1 availableconstraint", "/sdmx/2.1/availableconstraint/DF_WORKPERM_VALID", None, "2xx"),
    ("friendly: dataflows", "/api/dataflows", None, "2xx"),
    ("friendly: one dataflow", "/api/dataflows/DF_RESPERM_TEMP?lang=az", None, "2xx"),
    ("friendly: data, CITIZENSHIP=TR", "/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR", None, "2xx"),
    ("friendly: data.csv", "/api/dataflows/DF_WORKPERM_ISSUED/data.csv?CITIZENSHIP=TR", None, "2xx"),
    ("release calendar JSON", "/releases.json", None, "2xx"),
    ("DCAT catalogue, Turtle", "/catalogue.ttl", None, "2xx"),
    ("bad: unknown dataflow", "/sdmx/2.1/data/DF_NO_SUCH_FLOW", None, "404"),
    ("bad: period that is not one", "/sdmx/2.1/data/DF_RESPERM_TEMP?startPeriod=2024-Q7", None, "400"),
    ("bad: key with too many parts", "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU.X.Y.Z.W.V", None, "400"),
    ("bad: unknown component filter", "/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?c[NO_SUCH_DIM]=x", JSON2, "400"),
    ("bad: format not served", "/sdmx/2.1/data/DF_RESPERM_TEMP?format=pdf", None, "406"),
]

LUA = r"""
-- Generated by bench/load.py: rotate through the mix, count what was sent and received.
local mix = {
%(entries)s
}
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  i = id * 7  -- threads start at different places in the mix
  n = id * 1000000
  sent_good, sent_bad = 0, 0
  s1, s2, s3, s4, s5 = 0, 0, 0, 0, 0
end

function request()
  i = i %% #mix + 1
  local e = mix[i]
  local path = e[1]
  if string.find(path, "{n}", 1, true) then
    n = n + 1
    path = string.gsub(path, "{n}", tostring(n %% 100000 + 1))
  end
  if e[3] then sent_bad = sent_bad + 1 else sent_good = sent_good + 1 end
  local headers = {["Accept-Encoding"] = "gzip"}
  if e[2] then headers["Accept"] = e[2] end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  if status < 200 then s1 = s1 + 1
  elseif status < 300 then s2 = s2 + 1
  elseif status < 400 then s3 = s3 + 1
  elseif status < 500 then s4 = s4 + 1
  else s5 = s5 + 1 end
end

function done(summary, latency, requests)
  local t = {sent_good = 0, sent_bad = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0}
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
  end
  io.write("MIGSTAT_COUNTS")
  for _, k in ipairs({"sent_good", "sent_bad", "s1", "s2", "s3", "s4", "s5"}) do
    io.write(string.format(" %%s=%%d", k, t[k]))
  end
  io.write("\n")
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("MIGSTAT_PCT p%%d=%%d\n", p, latency:percentile(p)))
  end
  io.write(string.format("MIGSTAT_MAX %%d\n", latency.max))
end
"""


def lua_script(mix=MIX) -> str:
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    entries = ",\n".join(
        f"  {{{q(path)}, {q(accept) if accept else 'nil'}, {'true' if expect != '2xx' else 'false'}}}"
        for _, path, accept, expect in mix)
    return LUA % {"entries": entries}


# --- the store ---------------------------------------------------------------------------

def sqlite_store(tmp: Path) -> tuple[str, str]:
    """A SQLite store holding the demonstration release(s): URL and how it was made."""
    target = tmp / "store.sqlite"
    source = ROOT / "var" / "migstat.sqlite"
    if source.exists():
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        src.backup(dst)
        dst.close()
        src.close()
        return f"sqlite:///{target}", f"copy of {source.relative_to(ROOT)} (SQLite backup API)"
    publish_demonstration(f"sqlite:///{target}", tmp)
    return f"sqlite:///{target}", "demonstration extracts published into a fresh SQLite file"


def publish_demonstration(url: str, tmp: Path) -> None:
    from publisher.content import load
    from publisher.demo import generate
    from publisher.extract import read_extract
    from publisher.publish import publish
    from publisher.staging import ingest
    from store.db import make_engine
    from store.migrate import upgrade

    content = load()
    engine = make_engine(url)
    upgrade(engine)
    for flow_id, path in generate(content, tmp / "demo"):
        ingest(engine, read_extract(path, content.dataflow(flow_id)))
    publish(engine, content, "demonstration (bench/load.py)")
    engine.dispose()


def new_schema(server_url: str, prefix: str):
    """A schema of our own on the server (bench/scale.py too): its name, a URL into it, drop()."""
    from sqlalchemy import create_engine, text

    schema = prefix + uuid.uuid4().hex[:12]
    admin = create_engine(server_url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in server_url else "?"
    url = f"{server_url}{sep}options=-csearch_path%3D{schema}"

    def drop() -> None:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return schema, url, drop


def postgresql_store(server_url: str, tmp: Path):
    """A schema of our own on the server, the demonstration published into it; URL and drop()."""
    schema, url, drop = new_schema(server_url, "load_")
    try:
        publish_demonstration(url, tmp)
    except BaseException:
        drop()
        raise
    return url, drop, schema


# --- the server --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """`python -m uvicorn api.app:app [--workers N]` in a subprocess (bench/scale.py too);
    `env`: settings on top of DATABASE_URL and CACHE_DIR."""

    def __init__(self, url: str, cache_dir: Path, workers: int | None = 2, nodelay: bool = False,
                 env: dict[str, str] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": url, "CACHE_DIR": str(cache_dir), **(env or {})}
        # api.serve: uvicorn with TCP_NODELAY on the workers' connections (uvicorn#3149).
        launcher = ["-m", "api.serve"] if nodelay else ["-m", "uvicorn"]
        processes = ["--workers", str(workers)] if workers else []
        self.proc = subprocess.Popen(
            [sys.executable, *launcher, "api.app:app", "--host", "127.0.0.1", "--port",
             str(self.port), *processes, "--log-level", "warning"],
            cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the API did not start")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def check_mix(base: str) -> list[str]:
    """Send each request of the mix once; return the mismatches (empty when all as expected)."""
    wrong = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for label, path, accept, expect in MIX:
            headers = {"Accept-Encoding": "gzip", **({"Accept": accept} if accept else {})}
            r = client.get(path.replace("{n}", "1"), headers=headers)
            ok = (200 <= r.status_code < 300) if expect == "2xx" else str(r.status_code) == expect
            if not ok:
                wrong.append(f"{label}: {path} answered {r.status_code}, expected {expect}"
                             f" ({r.text[:200]!r})")
    return wrong


# --- wrk ---------------------------------------------------------------------------------

def run_wrk(base: str, script: Path, connections: int, duration: int, timeout: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", f"--timeout={timeout}s",
           "-s", str(script), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out) | {"command": " ".join(cmd[:-3] + ["-s", script.name, base]), "raw": out}


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(out: str) -> dict:
    """Figures from wrk's output and the Lua script's MIGSTAT lines; latencies in ms."""
    res: dict = {"socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "non_2xx_3xx": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        res["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", out):
        res["requests"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        res["non_2xx_3xx"] = int(m.group(1))
    if m := re.search(r"MIGSTAT_COUNTS (.*)", out):
        res["counts"] = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    for m in re.finditer(r"MIGSTAT_PCT p(\d+)=(\d+)", out):  # microseconds
        res[f"p{m.group(1)}"] = int(m.group(2)) / 1000
    if m := re.search(r"MIGSTAT_MAX (\d+)", out):
        res["max"] = int(m.group(1)) / 1000
    return res


def verdict(res: dict, connections: int) -> list[str]:
    """What breaks the promise in one run (empty: kept)."""
    broken = []
    c = res.get("counts")
    if c is None:
        return ["the Lua script's counts are missing from wrk's output"]
    if c["s5"]:
        broken.append(f"{c['s5']} responses 5xx")
    if sum(res["socket_errors"].values()):
        broken.append(f"socket errors {res['socket_errors']}")
    if c["s4"] > c["sent_bad"]:
        broken.append(f"{c['s4']} responses 4xx but only {c['sent_bad']} bad requests sent")
    if c["s4"] < c["sent_bad"] - connections:
        broken.append(f"only {c['s4']} responses 4xx for {c['sent_bad']} bad requests sent")
    if c["s1"]:
        broken.append(f"{c['s1']} responses 1xx")
    return broken


def row(label: str, res: dict) -> str:
    c = res["counts"]
    se = sum(res["socket_errors"].values())
    return (f"{label:<26} {res['requests']:>9} {res['rps']:>8.0f} {res['p50']:>7.1f} {res['p90']:>7.1f} "
            f"{res['p99']:>7.1f} {res['max']:>8.1f} {se:>6} {c['s2'] + c['s3']:>9} {c['s4']:>7} "
            f"{c['sent_bad']:>8} {c['s5']:>5} {res['non_2xx_3xx']:>8}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    ap.add_argument("--connections", type=int, default=200, help="concurrent connections (default 200)")
    ap.add_argument("--database", help="PostgreSQL server URL (a schema of our own is made there and "
                                       "dropped); default: a temporary SQLite store")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    ap.add_argument("--tcp-nodelay", action="store_true",
                    help="serve through api.serve (uvicorn with TCP_NODELAY; what production runs)")
    ap.add_argument("--timeout", type=int, default=10, help="wrk's per-request timeout, seconds (default 10)")
    ap.add_argument("--baseline-duration", type=int, default=10)
    ap.add_argument("--baseline-connections", type=int, default=10)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed", file=sys.stderr)
        return 2

    started = time.time()
    print(f"# migstat load test, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")
    drop = None
    with tempfile.TemporaryDirectory(prefix="migstat-load-") as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        if args.database:
            url, drop, schema = postgresql_store(args.database, tmp)
            how = f"PostgreSQL, schema {schema} (dropped at the end), demonstration published into it"
        else:
            url, how = sqlite_store(tmp)
            how = f"SQLite, {how}"
        print(f"store: {how}, ready in {time.perf_counter() - t0:.1f} s")
        api = None
        try:
            api = Api(url, tmp / "cache", args.workers, args.tcp_nodelay)
            print(f"API: uvicorn api.app:app --workers {args.workers}, {api.base}, response caches on "
                  f"(production settings), CACHE_DIR in a temporary directory"
                  + (", listening socket re-made with IPPROTO_TCP (--tcp-nodelay)" if args.tcp_nodelay else ""))
            wrong = check_mix(api.base)
            n_bad = sum(1 for m in MIX if m[3] != "2xx")
            print(f"mix: {len(MIX)} requests ({len(MIX) - n_bad} good, {n_bad} deliberately bad), each sent "
                  f"once first: {'all as expected' if not wrong else 'NOT as expected'}")
            for w in wrong:
                print(f"  MISMATCH {w}")
            script = tmp / "mix.lua"
            script.write_text(lua_script())
            runs = {}
            runs["baseline"] = run_wrk(api.base, script, args.baseline_connections, args.baseline_duration,
                                       args.timeout)
            runs["load"] = run_wrk(api.base, script, args.connections, args.duration, args.timeout)
        finally:
            if api:
                api.stop()
            if drop:
                drop()

    print()
    print(f"## wrk -t2, the mix above, --timeout {args.timeout}s; latency in ms")
    print(f"{'run':<26} {'requests':>9} {'req/s':>8} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>8} "
          f"{'sockerr':>6} {'2xx/3xx':>9} {'4xx':>7} {'bad sent':>8} {'5xx':>5} {'wrk non2xx':>8}")
    base, load = runs["baseline"], runs["load"]
    print(row(f"baseline {args.baseline_connections} conn, {args.baseline_duration} s", base))
    print(row(f"load {args.connections} conn, {args.duration} s", load))
    print(f"{'ratio load / baseline':<26} {'':>9} {load['rps'] / base['rps']:>8.2f} "
          f"{load['p50'] / base['p50']:>7.1f} {load['p90'] / base['p90']:>7.1f} {load['p99'] / base['p99']:>7.1f} "
          f"{load['max'] / base['max']:>8.1f}")
    print("  4xx: answers to the deliberately bad requests (expected: at most 'bad sent', at least that minus "
          "the connections in flight at the end); wrk non2xx: wrk's own count, which includes those 4xx")
    problems = {name: verdict(res, args.connections if name == "load" else args.baseline_connections)
                for name, res in runs.items()}
    broken = [f"{name}: {p}" for name, ps in problems.items() for p in ps] + [f"mix: {w}" for w in wrong]
    print()
    if broken:
        print("PROMISE BROKEN (zero 5xx, zero socket errors, 4xx only for the bad requests):")
        for b in broken:
            print(f"  - {b}")
    else:
        print("promise kept: zero 5xx, zero socket errors, 4xx only for the bad requests "
              f"({load['counts']['s4']} of {load['counts']['sent_bad']} sent under load)")
    print(f"(load test took {time.time() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)")
    if args.json:
        args.json.write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "raw"}
                                         for k, v in runs.items()} | {"broken": broken}, indent=2))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
