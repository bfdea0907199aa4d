"""PgBouncer on loopback in transaction mode, in front of the test PostgreSQL: what a provider runs
between many gateway replicas and one database. Debian's ``pgbouncer`` package (``make test``
installs it where apt can); without it the tests that need it are skipped, saying so."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def available() -> bool:
    return os.access(BINARY, os.X_OK)


class PgBouncer:
    """``start()`` listens on a free loopback port; ``url(direct)`` is the same database through it."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="gw-pgbouncer-"))
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, direct: str) -> str:
        parts = urlsplit(direct)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def start(self) -> PgBouncer:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        (self.folder / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            f"""[databases]
* = host={self.upstream[0]} port={self.upstream[1]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.folder}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 4
server_reset_query =
ignore_startup_parameters = extra_float_digits,options,search_path
admin_users = postgres
logfile = {self.folder}/pgbouncer.log
"""
        )
        # PgBouncer will not run as root: it runs as the postgres user, who owns its folder.
        for path in (self.folder, *self.folder.iterdir()):
            shutil.chown(path, "postgres")
        log = (self.folder / "stdout.log").open("wb")
        self.proc = subprocess.Popen(
            [BINARY, "-u", "postgres", str(ini)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen: {self.log()}")

    def log(self) -> str:
        return "".join(
            p.read_text(errors="replace")[-3000:]
            for p in (self.folder / "stdout.log", self.folder / "pgbouncer.log")
            if p.exists()
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
