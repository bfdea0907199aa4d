"""The listening socket, the worker processes and their signals.

The parent binds the socket (so a port in use stops ``gateway serve`` at once) and forks the
workers, which share it; the parent serves nothing. It answers signals:

- ``SIGTERM`` / ``SIGINT``: each worker stops accepting, closes its idle connections, lets the
  requests in flight finish (at most ``shutdown_timeout`` seconds; then their connections are cut),
  runs the app's lifespan shutdown (the ledger's last flush), and exits; then the parent exits 0.
- ``SIGHUP``: the workers are replaced by fresh ones; the old ones stop as on ``SIGTERM``. The
  socket stays open in the parent throughout: a connection that comes meanwhile waits in its
  backlog for a worker, it is not refused.
- A worker that dies is replaced; one that fails its lifespan startup stops the server (exit 3).
- A worker whose parent dies, however, is sent ``SIGTERM`` (Linux's parent-death signal).

A worker runs uvloop, the app's lifespan, and :class:`.connection.HttpConnection` per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import time
from collections.abc import Callable

import structlog
import uvloop

from .connection import App, HttpConnection, ServerState
from .lifespan import Lifespan

_log = structlog.get_logger(__name__)

STARTUP_FAILURE = 3
BACKLOG = 2048
_TICK = 0.2


def serve(
    factory: Callable[[], App],
    *,
    host: str,
    port: int,
    workers: int = 1,
    shutdown_timeout: float = 30.0,
    idle_timeout: float = 75.0,
    stall_timeout: float = 60.0,
) -> int:
    """Serve until told to stop; the process's exit code."""
    sock = listening_socket(host, port)
    sock.setblocking(False)
    options = {
        "shutdown_timeout": shutdown_timeout,
        "idle_timeout": idle_timeout,
        "stall_timeout": stall_timeout,
    }
    return _Supervisor(factory, sock, max(1, workers), options).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host`` (an IPv4 or IPv6 address, or a name) and ``port``, listening.

    The family is the address's own: ``socket.create_server`` alone would take ``::`` for IPv4.
    ``::`` also takes IPv4 connections where the system allows it (dual stack).
    """
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    dual = family == socket.AF_INET6 and host in ("::", "") and socket.has_dualstack_ipv6()
    return socket.create_server((host, port), family=family, backlog=BACKLOG, dualstack_ipv6=dual)


class _Supervisor:
    def __init__(
        self, factory: Callable[[], App], sock: socket.socket, count: int, options: dict[str, float]
    ) -> None:
        self.factory = factory
        self.sock = sock
        self.count = count
        self.options = options
        self.workers: dict[int, int] = {}  # pid -> slot
        self.retiring: set[int] = set()  # replaced workers finishing their requests
        self.stopping = False
        self.reload = False
        self.failed = False

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        for slot in range(self.count):
            self._spawn(slot)
        while not self.stopping:
            if self.reload:
                self.reload = False
                self._replace_all()
            self._reap(respawn=True)
            time.sleep(_TICK)
        self._stop_all()
        self.sock.close()
        return STARTUP_FAILURE if self.failed else 0

    # -- signals ---------------------------------------------------------------------------

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _on_hup(self, signum: int, frame: object) -> None:
        self.reload = True

    # -- workers ---------------------------------------------------------------------------

    def _spawn(self, slot: int) -> int:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            code = 1
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                _stop_with(parent)
                code = _work(self.factory, self.sock, self.options)
            except BaseException:
                _log.exception("worker_failed")
            finally:
                os._exit(code)
        self.workers[pid] = slot
        return pid

    def _reap(self, *, respawn: bool) -> None:
        while self.workers or self.retiring:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                self.retiring.clear()
                return
            if pid == 0:
                return
            if pid in self.retiring:
                self.retiring.discard(pid)
                continue
            slot = self.workers.pop(pid, None)
            if slot is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == STARTUP_FAILURE:
                _log.error("worker_startup_failed", pid=pid)
                self.failed = self.stopping = True
            elif respawn and not self.stopping:
                _log.warning("worker_died", pid=pid, exit_code=code)
                self._spawn(slot)

    def _replace_all(self) -> None:
        for old, slot in list(self.workers.items()):
            del self.workers[old]
            self.retiring.add(old)
            with contextlib.suppress(ProcessLookupError):
                os.kill(old, signal.SIGTERM)
            self._spawn(slot)

    def _stop_all(self) -> None:
        everyone = [*self.workers, *self.retiring]
        for pid in everyone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.options["shutdown_timeout"] + 15
        while (self.workers or self.retiring) and time.monotonic() < deadline:
            self._reap(respawn=False)
            time.sleep(0.05)
        for pid in [*self.workers, *self.retiring]:
            _log.error("worker_killed", pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.workers.clear()
        self.retiring.clear()


def _stop_with(parent: int) -> None:
    """A worker whose parent is gone (killed, even with SIGKILL) is sent SIGTERM, so that it never
    serves on, orphaned, a socket nobody supervises (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above was made
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _work(factory: Callable[[], App], sock: socket.socket, options: dict[str, float]) -> int:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(factory, sock, options))


async def _serve(factory: Callable[[], App], sock: socket.socket, options: dict[str, float]) -> int:
    loop = asyncio.get_running_loop()
    app = factory()
    state = ServerState(app, idle_timeout=options["idle_timeout"], stall_timeout=options["stall_timeout"])
    lifespan = Lifespan(app, state.lifespan_state)
    if not await lifespan.startup():
        return STARTUP_FAILURE
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the parent's business
    server = await loop.create_server(lambda: HttpConnection(state, loop), sock=sock, backlog=BACKLOG)
    await stop.wait()
    server.close()
    state.shut()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.all_closed.wait(), timeout=options["shutdown_timeout"])
    for conn in list(state.connections):  # past the grace period: cut what is left
        if conn.transport is not None:
            conn.transport.abort()
    if state.tasks:  # the cut calls end (and settle: their usage events) before the ledger's flush
        await asyncio.wait(set(state.tasks), timeout=5)
    await lifespan.shutdown()
    return 0
