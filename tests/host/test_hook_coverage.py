"""Every hook spec has a test exercising it: a test function named `test_hook_<name>...`
(without the `atom_` prefix) somewhere under tests/host. Add a spec, add its test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from atom_host_stub import hookspecs

HERE = Path(__file__).parent


def hook_spec_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "atom_spec")
    )


def hook_test_names() -> set[str]:
    names: set[str] = set()
    for path in HERE.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_hook_")
        }
    return names


def test_the_spec_list_is_found() -> None:
    # Guards the meta-test itself: were the marker attribute renamed, it would pass vacuously.
    assert {"atom_startup", "atom_register_routes", "atom_migrate"} <= set(hook_spec_names())


@pytest.mark.parametrize("spec", hook_spec_names())
def test_hook_spec_has_a_test(spec: str) -> None:
    prefix = "test_hook_" + spec.removeprefix("atom_")
    tests = hook_test_names()
    assert any(name == prefix or name.startswith(prefix + "_") for name in tests), (
        f"hook {spec} has no test: write one named {prefix}_... under tests/host"
    )
