"""Shared benchmark plumbing: machine line, free ports, child servers, timing, tables."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def start_up_env(env: Mapping[str, str], cache_dir: str | Path) -> dict[str, str]:
    """`env` for timing fresh interpreters side by side with every module's bytecode cached,
    ours as the SDK's. A wheel install compiles its modules when installed; an editable install
    never does, and under PYTHONDONTWRITEBYTECODE no run caches them either, so each run of
    `atom-host` would compile the project's sources (about a sixth of its instructions) while
    the SDK's come compiled. The caches go to `cache_dir` (PYTHONPYCACHEPREFIX), not into the
    source tree; run each command once before timing it to fill them."""
    out = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    return out


def machine() -> str:
    """One line naming what the figures came from."""
    cpus = os.cpu_count() or 0
    try:
        import psutil

        cpus = len(psutil.Process().cpu_affinity() or []) or cpus
    except Exception:
        pass
    return (
        f"{cpus} cores, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@contextlib.contextmanager
def child_server(
    args: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    quiet: bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` (a server listening on `port`) for the duration of the block."""
    full_env = {**os.environ, **(env or {})}
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        list(args), cwd=ROOT, env=full_env, stdout=out, stderr=out, start_new_session=True
    )
    try:
        wait_for_port(port, timeout, proc)
        yield proc
    finally:
        if proc.poll() is None:
            # Our own child's process group only (start_new_session above).
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def sandbox_server(
    port: int,
    *,
    rate_limit: int | None,
    window_s: float = 10.0,
    contacts: int = 0,
    quiet: bool = True,
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """The offline sandbox as a real HTTP server (the SDK speaks urllib3, not ASGI)."""
    args = [
        PYTHON,
        "-m",
        "bench.sandbox_server",
        "--port",
        str(port),
        "--window",
        str(window_s),
        "--contacts",
        str(contacts),
    ]
    args += ["--rate-limit", str(rate_limit) if rate_limit else "none"]
    return child_server(args, port, quiet=quiet, timeout=120.0)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Table:
    """A plain-text results table; `rows` hold already formatted cells."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([fmt(c) for c in cells])

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for r in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, r, strict=False)]
        line = "  ".join("-" * w for w in widths)
        out = [
            f"== {self.title}",
            "  ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=False)),
            line,
        ]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in self.rows]
        out += [f"  * {n}" for n in self.notes]
        return "\n".join(out)

    def print(self) -> None:
        print(self.render(), flush=True)
        print(f"  machine: {machine()}", flush=True)


def fmt(v: object) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0
