"""Check a running `docker compose` stack against the promises of the operations section
(README, "Operations"; issue 9), and print what was measured.

    docker compose up -d                  # or: -f docker-compose.yml -f deploy/offline/compose.yml
    python3 deploy/check_stack.py         # same -f options after --compose, if any

It checks, from outside (through the proxy on :8080) and from inside the containers:

1. the stack answers: /ready, the dataflow list, data, the explorer; the API's response
   cache (a volume) is usable;
2. the proxy caches what the API marks cacheable and revalidates with its ETags (304);
3. the API runs several worker processes and connects as the read-only role: writes and
   the staging area are refused to it;
4. the proxy refuses writes, hides its version, passes the security headers, and limits a
   client's rate (429);
4b. scaled out (`up --scale api=N`): the proxy shares requests out between the instances;
5. PostgreSQL restarted under the API (`docker compose stop db`, then `start db`): cached answers keep
   coming from every worker, what needs the database gets a 503, /live stays 200 and
   /ready says 503; after the restart the API answers by itself (the recovery is timed).

Exit status 1 if any check fails. Uses only the standard library and the docker CLI.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request

PROXY = "http://127.0.0.1:8080"
DATA = "/sdmx/2.1/data/DF_RESPERM_TEMP/all?startPeriod=2023"
COLD = "/sdmx/2.1/data/DF_CITIZENSHIP/all?startPeriod={year}"
# Run inside the API container (python is there; curl is not): GET each path argument
# on the API itself, behind the proxy, and print "status path" per line.
PROBE = """
import sys, urllib.request, urllib.error
for p in sys.argv[1:]:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8000" + p, timeout=30) as r: s = r.status
    except urllib.error.HTTPError as e: s = e.code
    except Exception as e: s = type(e).__name__
    print(s, p)
"""
ROLE_CHECK = """
import os, json, sqlalchemy as sa
e = sa.create_engine(os.environ["DATABASE_URL"])
out = {"role": e.url.username}
with e.connect() as c:
    out["public_observations"] = c.execute(sa.text("select count(*) from public_observation")).scalar()
refused = {}
for stmt in ["delete from public_observation", "insert into public_state select * from public_state",
             "create table public.intruder (i int)", "select count(*) from staging_observation"]:
    try:
        with e.begin() as c:
            c.execute(sa.text("set transaction read write"))
            c.execute(sa.text(stmt))
        refused[stmt] = None
    except Exception as ex:
        refused[stmt] = str(getattr(ex, "orig", ex)).splitlines()[0]
out["refused"] = refused
print(json.dumps(out))
"""

failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f": {detail}" if detail else ""))
    if not ok:
        failures.append(what)


def get(path: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    req = urllib.request.Request(PROXY + path, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class Stack:
    def __init__(self, compose: list[str]):
        self.compose = compose

    def run(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(self.compose + list(args), input=stdin, capture_output=True, text=True,
                              check=True).stdout

    def api(self, script: str, *args: str) -> str:
        return self.run("exec", "-T", "api", "python", "-c", script, *args)

    def probe(self, *paths: str) -> list[int | str]:
        out = self.api(PROBE, *paths).split()
        return [int(s) if s.isdigit() else s for s in out[0::2]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compose", default="docker compose",
                    help="the compose command with its -f options (default: %(default)s)")
    stack = Stack(shlex.split(ap.parse_args().compose))

    print("1. the stack answers")
    for path in ["/ready", "/api/dataflows", DATA, "/"]:
        status, _, body = get(path)
        check(status == 200, f"GET {path}", f"{status}, {len(body):,} bytes")

    status, _, body = get("/ready")
    cache_state = json.loads(body).get("response_cache") if status == 200 else None
    check(cache_state == "on", "the API's response cache is usable", str(cache_state))

    print("2. the proxy caches and revalidates")
    seen = [get(DATA) for _ in range(3)]
    check([h.get("x-proxy-cache") for _, h, _ in seen][1:] == ["HIT", "HIT"], "repeated query from the proxy",
          f"{[h.get('x-proxy-cache') for _, h, _ in seen]}, Cache-Control: {seen[0][1].get('cache-control')}")
    status, _, _ = get(DATA, {"If-None-Match": seen[0][1].get("etag", "")})
    check(status == 304, "If-None-Match with the ETag", str(status))

    print("3. the API's workers and its database role")
    cmdlines = stack.run("exec", "-T", "api", "sh", "-c",
                         "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done")
    workers = sum("multiprocessing.spawn" in line for line in cmdlines.splitlines())
    check(workers >= 2, "several API worker processes", str(workers))
    roles = json.loads(stack.api(ROLE_CHECK))
    check(roles["role"] == "migstat_api" and roles["public_observations"] > 0,
          "the API reads the public area as migstat_api", f"{roles['public_observations']:,} observations")
    for stmt, error in roles["refused"].items():
        check(error is not None, f"refused to the API's role: {stmt}", error or "ALLOWED")

    print("4. the proxy's guard")
    status, headers, _ = get(DATA, method="POST")
    check(status in (403, 405), "POST refused", str(status))
    check(headers.get("server", "") == "nginx", "no version in Server", headers.get("server", ""))
    status, headers, _ = get("/api/dataflows")
    missing = [h for h in ("x-content-type-options", "content-security-policy", "referrer-policy")
               if h not in headers]
    check(not missing, "security headers passed through", f"missing {missing}" if missing else "")
    burst = [get(f"/api/dataflows?q=burst{i}")[0] for i in range(120)]
    check(429 in burst, "a client's rate is limited", f"{burst.count(429)} of 120 quick requests got 429")

    containers = stack.run("ps", "-q", "api").split()
    if len(containers) > 1:  # scaled out: `up --scale api=N`, then `restart proxy`
        print(f"4b. {len(containers)} API instances behind the proxy")
        tag = f"spread{int(time.time())}"
        since = time.time() - 1
        for i in range(60):
            get(f"/api/dataflows?q={tag}{i}")
        counts = [subprocess.run(["docker", "logs", "--since", str(int(since)), c], capture_output=True,
                                 text=True).stdout.count(tag) for c in containers]
        check(sum(counts) == 60 and all(counts), "requests shared out by the proxy",
              " + ".join(map(str, counts)) + " of 60")

    print("5. PostgreSQL restarted under the API")
    warm = [DATA, "/sdmx/2.1/dataflow/all/all/latest"]
    stack.probe(*warm)
    cold = COLD.format(year=2000 + int(time.time()) % 20)  # not asked before (very likely)
    stack.run("stop", "db")
    t_stop = time.monotonic()
    try:
        time.sleep(3)  # past STATE_TTL: the workers try the database and find it gone
        during = stack.probe(*(warm * 8), cold, "/live", "/ready")
        cached, rest = during[:len(warm) * 8], during[len(warm) * 8:]
        check(all(s == 200 for s in cached), "cached answers from every worker while PostgreSQL is down",
              f"{cached.count(200)} of {len(cached)} answered 200")
        check(rest == [503, 200, 503], "a new query 503, /live 200, /ready 503", str(rest))
    finally:
        stack.run("start", "db")
    t_start = time.monotonic()
    polls = []
    while time.monotonic() - t_start < 60:
        polls.append(stack.probe(cold)[0])
        if polls[-1] == 200:
            break
        time.sleep(0.5)
    check(polls[-1] == 200, "the API answers again by itself",
          f"outage {t_start - t_stop:.1f} s; a new query answered {time.monotonic() - t_start:.1f} s "
          f"after `start db` ({len(polls)} polls)")
    print(f"\n{'all checks passed' if not failures else f'{len(failures)} checks FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
