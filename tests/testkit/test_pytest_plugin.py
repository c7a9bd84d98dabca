"""The test kit is a pytest plugin loaded in every run where the host is installed: it must
import almost nothing, add no test of its own unless asked, and keep its fixtures to itself."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

QUIET = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")
HEAVY = ("fastapi", "starlette", "httpx", "sqlalchemy", "pydantic", "atom_hubspot", "jinja2")


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys; before = set(sys.modules); import atom_host_stub.testing.plugin; "
        "print(' '.join(sorted(m.split('.')[0] for m in set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(out) & set(HEAVY), out


def test_it_is_registered_through_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("atom_host")
    assert plugin is not None and plugin.__name__ == "atom_host_stub.testing.plugin"


def test_without_the_option_it_adds_no_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=1)
    assert "CRM contract" not in result.stdout.str()


def test_its_fixtures_all_start_with_atom(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(*QUIET, "--fixtures")
    names = re.findall(r"^(\w+) -- .*atom_host_stub/testing/plugin\.py", result.stdout.str(), re.M)
    assert len(names) >= 10 and all(name.startswith("atom_") for name in names), names


def test_naming_no_plugin_for_the_contract_fails_with_the_option_to_use(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_mine="from atom_host_stub.testing.crm_contract import CRMContract\n\n"
        "class TestMine(CRMContract):\n    pass\n"
    )
    result = pytester.runpytest_inprocess(*QUIET, "-k", "chosen_provider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--atom-crm-contract=PLUGIN, or override atom_crm_provider*"])
