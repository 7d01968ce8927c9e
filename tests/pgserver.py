"""A private, throw-away PostgreSQL cluster for tests that must stop, restart or starve
the server (tests/test_faults.py), so that the machine's shared server is never touched.

Debian's binaries (/usr/lib/postgresql/<version>/bin) are used. initdb refuses to run as
root, so when the tests run as root the cluster belongs to the ``postgres`` OS user and
every server command runs through ``runuser``. Trust authentication on 127.0.0.1 only, a
free port, the unix socket in the cluster's own directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin() -> Path | None:
    """The newest installed PostgreSQL bin directory with initdb and pg_ctl, or None."""
    env = os.environ.get("PG_BIN")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                          key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                                          reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def unavailable() -> str | None:
    """Why a private cluster cannot be started here, or None."""
    if find_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to own a private cluster"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """start(), stop(), restart(); `url(dbname)` for SQLAlchemy (psycopg 3)."""

    def __init__(self, base: str | Path | None = None, *, timeout: float = 30):
        self.bin = find_bin()
        self.base = Path(base or tempfile.mkdtemp(prefix="pgfault-"))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.timeout = timeout
        self.as_postgres = os.geteuid() == 0
        self._initialised = False

    # --- plumbing ---------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout or self.timeout)

    def chown(self, path: Path) -> None:
        """Give `path` to the cluster's owner (a tablespace directory, say)."""
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def url(self, dbname: str = "postgres", **options: str) -> str:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}?connect_timeout=3"
        if options:
            from urllib.parse import quote
            url += "&options=" + quote(" ".join(f"-c{k}={v}" for k, v in options.items()), safe="")
        return url

    # --- life -------------------------------------------------------------------------------

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        for p in (self.base, self.sock):
            self.chown(p)
        os.chmod(self.base, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8", timeout=120)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.sock}'\nfsync = off\n"
                       "shared_buffers = 16MB\nmax_connections = 40\nlogging_collector = off\n")
        self._initialised = True

    def start(self) -> float:
        """Start the server and wait until it accepts connections; seconds taken."""
        if not self._initialised:
            self.init()
        if not self.log.exists():
            self.log.touch()
            self.chown(self.log)
        t = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(int(self.timeout)),
                  "start")
        return time.monotonic() - t

    def stop(self, mode: str = "fast") -> float:
        """Stop the server (fast: disconnect clients, roll back); seconds taken."""
        t = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(int(self.timeout)), "stop")
        return time.monotonic() - t

    def restart(self) -> float:
        return self.stop() + self.start()

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def cleanup(self) -> None:
        if self._initialised and self.running():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
