"""`serve --workers N` on Linux: one SO_REUSEPORT socket per worker. Over real sockets: new
connections spread over the workers, a worker that dies is replaced while the others serve,
and a worker that cannot start, or a port already taken, stops the supervisor with uvicorn's
startup-failure code instead of a restart loop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from atom_host_stub import reuseport
from bench._harness import free_port

pytestmark = pytest.mark.skipif(
    not reuseport.available(), reason="SO_REUSEPORT balancing is Linux's"
)

ROOT = Path(__file__).resolve().parents[2]


def _supervise(
    port: int, app: str = "tests.host.pid_app:app", workers: int = 2, healthcheck_s: int = 5
) -> subprocess.Popen[str]:
    code = (
        "import sys, uvicorn\n"
        "from atom_host_stub.reuseport import ReusePortSupervisor\n"
        f"config = uvicorn.Config({app!r}, host='127.0.0.1', port={port}, workers={workers}, "
        f"log_level='info', timeout_worker_healthcheck={healthcheck_s})\n"
        f"sys.exit(ReusePortSupervisor(config, {workers}).run())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _ask(port: int, sock: socket.socket | None = None, timeout: float = 10) -> int:
    """The pid of the worker that answers on `sock` (a new connection if None)."""
    own = sock is None
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
            chunk = s.recv(4096)
            assert chunk, "connection closed"
            data += chunk
        return int(data.split(b"\r\n\r\n", 1)[1])
    finally:
        if own:
            s.close()


def _wait_serving(port: int, proc: subprocess.Popen[str], workers: int = 2) -> None:
    """Until every worker answers (new connections until `workers` pids were seen)."""
    deadline = time.monotonic() + 120  # workers starting on a busy machine
    pids: set[int] = set()
    while len(pids) < workers:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, pids
        try:
            pids.add(_ask(port))
        except OSError:
            time.sleep(0.1)


@pytest.fixture
def served() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    proc = _supervise(port)
    try:
        _wait_serving(port, proc)
        yield port, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_new_connections_spread_over_the_workers(served: tuple[int, subprocess.Popen[str]]) -> None:
    port, proc = served
    # 40 keep-alive connections opened at once, as a load balancer's pool would.
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
    try:
        by_worker = Counter(_ask(port, s) for s in socks)
    finally:
        for s in socks:
            s.close()
    assert len(by_worker) == 2, by_worker
    # The kernel hashes each connection's addresses: 40 split no worse than 8/32 (a chance
    # of about 1 in 10^5 for a fair split).
    assert min(by_worker.values()) >= 8, by_worker
    # SIGTERM stops the workers and the supervisor, cleanly.
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(30) == 0


def test_a_worker_that_dies_is_replaced_while_the_other_serves(
    served: tuple[int, subprocess.Popen[str]],
) -> None:
    port, _ = served
    seen = {_ask(port) for _ in range(30)}
    assert len(seen) == 2
    victim = min(seen)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    now: set[int] = set()
    while time.monotonic() < deadline:
        try:
            now.add(_ask(port))
        except OSError:
            pass  # a connection the dead worker's socket had taken as it died
        if len(now - {victim}) == 2:
            break
        time.sleep(0.05)
    assert len(now - {victim}) == 2, now  # the survivor and a new worker


def test_a_worker_that_cannot_start_stops_the_supervisor() -> None:
    proc = _supervise(free_port(), app="tests.host.no_such_module:app")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out


def test_a_port_already_taken_is_refused_before_any_worker_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _supervise(taken.getsockname()[1])
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3, out
    assert "cannot listen" in out


def test_port_zero_puts_every_worker_on_the_one_port_chosen() -> None:
    proc = _supervise(0)
    try:
        assert proc.stdout is not None
        port = 0
        deadline = time.monotonic() + 60
        while not port:
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "no address announced"
            if "Uvicorn running on http://127.0.0.1:" in line:
                port = int(line.split("127.0.0.1:")[1].split()[0])
        _wait_serving(port, proc)  # both workers answer on it
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_a_worker_that_stops_answering_is_replaced() -> None:
    """A worker frozen whole (SIGSTOP: it still exists, it answers nothing) is killed after the
    health-check timeout and replaced, as uvicorn's supervisor does."""
    port = free_port()
    proc = _supervise(port, healthcheck_s=1)
    try:
        _wait_serving(port, proc)
        seen = {_ask(port) for _ in range(30)}
        frozen = min(seen)
        os.kill(frozen, signal.SIGSTOP)
        deadline = time.monotonic() + 60
        now: set[int] = set()
        while len(now - {frozen}) < 2 and time.monotonic() < deadline:
            try:
                now.add(_ask(port, timeout=1))
            except OSError:
                pass  # a connection the frozen worker's socket took
        assert len(now - {frozen}) == 2, now  # the other worker and a new one
        assert not psutil.pid_exists(frozen) or psutil.Process(frozen).status() == "zombie"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
