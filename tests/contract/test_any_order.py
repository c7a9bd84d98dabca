"""A test that runs a whole plugin suite (the guide's plugin, the memory example) leaves this
interpreter as it found it, so the database works in whatever test comes next. Run in pytest
sessions of their own, each starting with such a test, then one that uses the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USES_THE_DATABASE = (
    "tests/contract/test_crm_contract.py::TestHubSpotCRM::"
    "test_the_chosen_provider_serves_the_capability"
)
SUITE_RUNNERS = [
    "tests/docs/test_plugin_guide.py::"
    "test_a_plugin_written_from_the_guide_loads_passes_the_contract_and_serves_api_crm",
    "tests/contract/test_memory_example.py::test_the_example_passes_its_tests_and_the_contract_suite",
]


@pytest.mark.slow
@pytest.mark.parametrize("first", SUITE_RUNNERS, ids=["guide", "memory-example"])
def test_a_database_test_after_a_plugin_suite_runs_passes(first: str, tmp_path: Path) -> None:
    pytest_args = ["-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, first, USES_THE_DATABASE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-4000:]
