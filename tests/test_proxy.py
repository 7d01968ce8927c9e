"""The reverse proxy of the deployment (deploy/nginx.conf) in front of a live API: it
caches what the API marks cacheable, keys the cache by what the answer varies with, keeps
/metrics internal and refuses writes. Runs the real nginx (Debian's package) with the
deployment's own server block; skipped where nginx is not installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx-light)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy(live_server, tmp_path_factory):
    """nginx with deploy/nginx.conf, its upstream pointed at the live server."""
    work = tmp_path_factory.mktemp("nginx")
    os.chmod(work, 0o777)
    port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server api:8000;", f"server 127.0.0.1:{live_server.port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = re.sub(r"proxy_cache_path \S+", f"proxy_cache_path {work}/cache", site)
    (work / "site.conf").write_text(site)
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private tmp.
    user = "user root;" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(f"""
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    include {work}/site.conf;
}}
""")
    check = subprocess.run([NGINX, "-t", "-p", str(work), "-c", str(work / "nginx.conf")], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen([NGINX, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{base}/live", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    yield base
    server.terminate()
    server.wait(10)


def test_the_proxy_serves_a_repeated_request_from_its_cache(proxy):
    url = f"{proxy}/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR"
    first, second = httpx.get(url), httpx.get(url)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-proxy-cache"] == "MISS" and second.headers["x-proxy-cache"] == "HIT"
    assert first.content == second.content


def test_the_cache_is_keyed_by_what_the_answer_varies_with(proxy):
    url = f"{proxy}/sdmx/2.1/data/DF_WORKPERM_ISSUED/A.TR."
    xml = httpx.get(url, headers={"Accept": "application/xml"})
    csv = httpx.get(url, headers={"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"})
    assert csv.headers["x-proxy-cache"] == "MISS", "another media type is another entry"
    assert xml.headers["content-type"] != csv.headers["content-type"]
    again = httpx.get(url, headers={"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"})
    assert again.headers["x-proxy-cache"] == "HIT" and again.content == csv.content


def test_the_proxy_passes_the_apis_validators(proxy):
    url = f"{proxy}/sdmx/2.1/dataflow"
    first = httpx.get(url)
    etag = first.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_metrics_stay_internal_and_writes_are_refused_at_the_proxy(proxy):
    assert httpx.get(f"{proxy}/metrics").status_code == 200  # from 127.0.0.1: allowed
    r = httpx.post(f"{proxy}/api/dataflows", content=b"x")
    assert r.status_code in (403, 405)
