"""Run benchmarks by name, one after the other, each printing its own side-by-side table.

    python -m bench.run                      # every benchmark, default sizes
    python -m bench.run bulk_write memory    # some of them
    python -m bench.run memory -- --records 100000   # arguments after -- go to each one

Benchmarks: bulk_write, read_path, start_decode, memory, scale_out, load, test_kit_load,
serving, mirror, feed.
"""

from __future__ import annotations

import importlib
import sys
import time

from bench._harness import machine

BENCHMARKS = [
    "bulk_write",
    "read_path",
    "start_decode",
    "memory",
    "scale_out",
    "load",
    "test_kit_load",
    "serving",
    "mirror",
    "feed",
]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1 :]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    names = args or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    print(f"# machine: {machine()}", flush=True)
    rc = 0
    for name in names:
        t0 = time.perf_counter()
        print(f"\n# python -m bench.{name} {' '.join(extra)}".rstrip(), flush=True)
        rc |= importlib.import_module(f"bench.{name}").main(extra)
        print(f"# ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
