"""The in-memory example plugin runs its own tests and the host's CRM contract suite the way
its CI would: `pytest` in its folder, where pyproject.toml adds `--atom-crm-contract=memory`."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest


def test_the_example_passes_its_tests_and_the_contract_suite(
    pytester: pytest.Pytester, memory_crm_example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own interpreter (PYTHONPATH: the example, where it is not pip-installed): an
    # in-process run drops what it imported from sys.modules afterwards, and SQLAlchemy's
    # compiled extensions, first imported in there, would be half re-imported by later tests.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    result = pytester.runpytest_subprocess(
        *("-p", "no:cacheprovider", "-v", "--rootdir", str(memory_crm_example)),
        *("-c", str(memory_crm_example / "pyproject.toml"), str(memory_crm_example / "tests")),
    )
    collected = re.search(r"collected (\d+) items", result.stdout.str())
    assert collected is not None
    result.assert_outcomes(passed=int(collected.group(1)))
    result.stdout.fnmatch_lines(
        [
            "atom: CRM contract suite against plugin 'memory'",
            "*test_memory_crm.py::test_each_tenant_has_its_own_store PASSED*",
            "*::TestCRMContract::test_the_chosen_provider_serves_the_capability PASSED*",
            "*::TestCRMContract::test_search_contains_and_has PASSED*",
        ],
        consecutive=False,
    )
