"""`serve --workers N` on Linux: each worker accepts on a listening socket of its own, all in
one SO_REUSEPORT group, so the kernel spreads new connections evenly over the workers.

uvicorn's own supervisor hands every worker one shared socket. A worker woken for a burst of
new connections accepts the whole burst (up to the backlog) before the others wake: 50
keep-alive clients opening at once could all land on one worker and leave the other idle
(`python -m bench.serving --only workers` saw 2 workers serve 1.05x of one, the second
worker's CPU near zero). With SO_REUSEPORT the kernel picks a socket per connection by a hash
of its addresses.

The supervisor is deliberately small. Each worker is uvicorn's own worker process (it
configures logging, answers the supervisor's pings on a pipe, runs `uvicorn.Server`) that
first binds its own socket. The supervisor starts a new worker when one exits or stops
answering pings (uvicorn's `timeout_worker_healthcheck`, 5 s, as its own supervisor does),
stops all on SIGINT/SIGTERM, and stops with uvicorn's startup-failure code when a worker could
not start (the same failure would repeat). The parent holds a bound, non-listening socket in
the group for the whole run, so the port stays reserved between a worker's death and its
replacement, and a port in use is reported before any worker starts. Elsewhere (no
SO_REUSEPORT, or not Linux, where it does not balance) uvicorn's supervisor serves as before.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("uvicorn.error")


def available() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Worker(Process):
    """uvicorn's worker process, on a socket of its own in the group."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # in the worker
        c = self.config
        try:
            sock = reuseport_socket(c.host, c.port)
        except OSError as exc:
            log.error("worker cannot listen on %s:%d: %s", c.host, c.port, exc)
            sys.exit(STARTUP_FAILURE)
        super().target([sock])


class ReusePortSupervisor:
    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.processes: list[_Worker] = []
        self.should_exit = threading.Event()
        self.failed = False

    def _start(self) -> _Worker:
        process = _Worker(self.config, [])
        process.start()
        return process

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.should_exit.set()

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM; 0, or uvicorn's startup-failure code."""
        c = self.config
        try:
            holder = reuseport_socket(c.host, c.port)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", c.host, c.port, exc)
            return STARTUP_FAILURE
        # Port 0: the workers join the port the holder was given, not one each.
        c.port = holder.getsockname()[1]
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        scheme = "https" if c.is_ssl else "http"
        log.info(
            "Uvicorn running on %s://%s:%d with %d workers, one SO_REUSEPORT socket each",
            scheme,
            c.host,
            c.port,
            self.workers,
        )
        try:
            self.processes = [self._start() for _ in range(self.workers)]
            while not self.should_exit.wait(0.5):
                self._keep_alive()
        finally:
            for process in self.processes:
                process.terminate()  # SIGTERM: uvicorn finishes what is in flight
            grace = c.timeout_graceful_shutdown or 30
            for process in self.processes:
                process.process.join(grace)
                if process.process.is_alive():
                    process.kill()
                    process.join()
            holder.close()
        return STARTUP_FAILURE if self.failed else 0

    def _keep_alive(self) -> None:
        for i, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # exited, or alive but not answering: gone either way
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving: the app or the socket is broken, and every
                # replacement would fail the same way.
                log.error("worker [%s] failed to start; stopping", process.pid)
                self.failed = True
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info(
                "worker [%s] stopped (exit %s); starting another", process.pid, process.exitcode
            )
            self.processes[i] = self._start()
