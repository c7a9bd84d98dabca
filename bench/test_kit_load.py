"""What the host's pytest plugin (`atom_host_stub.testing`, entry point pytest11) costs every
pytest run in an environment where the host is installed: collection of a test folder with the
plugin loaded vs with it switched off (`-p no:atom_host`), interleaved, median of --runs; and
the modules importing the plugin adds.

    python -m bench.test_kit_load [--runs 7] [--tests tests/settings]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench._harness import PYTHON, ROOT, Table, median, ratio


def collect_s(folder: str, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra, folder],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def import_ms() -> float:
    """Milliseconds to import the plugin in an interpreter that has pytest loaded already."""
    code = (
        "import time, pytest, pytest_asyncio; t = time.perf_counter(); "
        "import atom_host_stub.testing.plugin; print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run([PYTHON, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout)


def added_modules() -> list[str]:
    code = (
        # pytest and pytest-asyncio are loaded in any run that loads the plugin.
        "import sys, pytest, pytest_asyncio; before = set(sys.modules); "
        "import atom_host_stub.testing.plugin; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([PYTHON, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tests", default="tests/settings")
    args = parser.parse_args(argv)
    with_plugin: list[float] = []
    without: list[float] = []
    collect_s(args.tests)  # warm the file cache once, unmeasured
    for _ in range(args.runs):
        with_plugin.append(collect_s(args.tests))
        without.append(collect_s(args.tests, "-p", "no:atom_host"))
    table = Table(
        f"pytest --collect-only {args.tests}: with the test kit vs without",
        ["run", "median s", "ratio"],
    )
    table.add(
        "with atom_host", f"{median(with_plugin):.3f}", ratio(median(with_plugin), median(without))
    )
    table.add("-p no:atom_host", f"{median(without):.3f}", "1.00x")
    imports = [import_ms() for _ in range(args.runs)]
    table.notes.append(
        f"importing the plugin (pytest already loaded): {median(imports):.1f} ms median"
    )
    added = " ".join(added_modules())
    table.notes.append(f"top-level modules the plugin's import adds to pytest's: {added}")
    table.notes.append(f"{args.runs} interleaved runs each; python {sys.version.split()[0]}")
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
