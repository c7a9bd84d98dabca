"""The plugin author's guide, docs/plugins.md, checked against the code: every hook spec is
documented with its exact signature, the example it walks through is shown verbatim, its serve
command works, and a plugin written from the guide alone loads, passes the CRM contract suite
and serves /api/crm/*."""

from __future__ import annotations

import inspect
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from atom_host_stub import hookspecs
from tests.plugin_dist import write_distribution

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
# A file of the example, as the guide shows it: its path in bold, then the whole file.
FILE_BLOCK = re.compile(r"\*\*`(examples/memory-crm/[^`]+)`\*\*\n\n```\w*\n(.*?)\n```\n", re.S)
# "To start your own, copy these files and rename" — as a reader following the guide would.
RENAMES = [
    (r"atom-memory-crm", "acme-crm"),
    (r"atom_memory_crm", "acme_crm"),
    (r"MEMORY_CRM_", "ACME_CRM_"),
    (r"\bmemory\b", "acme"),
]


def hook_specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(value)
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "atom_spec")
    }


def documented_signature(name: str, signature: inspect.Signature) -> str:
    """`def name(arg: Type, ...) -> Return`, the annotations as written in hookspecs.py."""
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({params}) -> {signature.return_annotation}"


def test_the_spec_list_is_found() -> None:
    # Guards the checks below: were the marker attribute renamed, they would pass vacuously.
    assert {"atom_startup", "atom_register_services", "atom_validate_config"} <= set(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_spec_is_documented_with_its_signature(name: str) -> None:
    assert f"\n### `{name}`\n" in GUIDE, f"docs/plugins.md has no section ### `{name}`"
    section = GUIDE.split(f"\n### `{name}`\n", 1)[1].split("\n### ", 1)[0]
    expected = documented_signature(name, hook_specs()[name])
    assert f"```python\n{expected}\n```" in section, f"document the signature: {expected}"
    assert "**When:**" in section, f"say when {name} runs"


def test_the_guide_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `(atom_\w+)`$", GUIDE, re.M))
    assert documented == set(hook_specs())


def test_the_guide_shows_the_example_files_verbatim() -> None:
    shown = dict(FILE_BLOCK.findall(GUIDE))
    example = REPO / "examples" / "memory-crm"
    files = {
        str(p.relative_to(REPO))
        for p in example.rglob("*")
        if p.is_file() and p.suffix in (".py", ".toml") and "__pycache__" not in p.parts
    }
    assert set(shown) == files
    for path, text in shown.items():
        assert text == (REPO / path).read_text(encoding="utf-8").rstrip("\n"), path


def written_from_the_guide(root: Path) -> Path:
    """The guide's files, renamed to a plugin of one's own (`acme`), written under `root`."""
    project = root / "acme-crm"
    for path, text in FILE_BLOCK.findall(GUIDE):
        for old, new in RENAMES:
            path, text = re.sub(old, new, path), re.sub(old, new, text)
        target = root / path.removeprefix("examples/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    assert not any("memory" in p.read_text() for p in project.rglob("*.py")), "not renamed"
    return project


def test_a_plugin_written_from_the_guide_loads_passes_the_contract_and_serves_api_crm(
    tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = written_from_the_guide(tmp_path / "work")
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    # Installed as pip would: the package importable, a dist-info with the entry point.
    site = tmp_path / "site"
    write_distribution(
        site,
        meta["name"],
        meta["version"],
        meta["entry-points"]["atom.plugins"],
        summary=meta["description"],
    )
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.syspath_prepend(str(site))

    from atom_host_stub.config import HostSettings
    from atom_host_stub.manager import PluginManager

    (record,) = PluginManager(HostSettings.from_env({"ATOM_PLUGINS": "acme"})).active()
    assert (record.name, record.module, record.distribution) == (
        "acme",
        "acme_crm.plugin",
        "acme-crm",
    )
    assert record.manifest is not None and record.manifest.version == meta["version"]
    assert record.manifest.capabilities == ["crm"]

    # Its own interpreter, as the plugin's CI would run it: an in-process run drops the modules
    # it imported from sys.modules afterwards, and a compiled extension imported for the first
    # time in there (SQLAlchemy's) would be half re-imported by later tests of this session.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    result = pytester.runpytest_subprocess(
        *("-p", "no:cacheprovider", "-v", "--rootdir", str(project)),
        *("-c", str(project / "pyproject.toml"), str(project / "tests")),
    )
    collected = re.search(r"collected (\d+) items", result.stdout.str())
    assert collected is not None and int(collected.group(1)) > 20
    result.assert_outcomes(passed=int(collected.group(1)))
    result.stdout.fnmatch_lines(
        [
            "atom: CRM contract suite against plugin 'acme'",
            "*::test_the_host_serves_it_at_api_crm PASSED*",
            "*::TestCRMContract::test_the_chosen_provider_serves_the_capability PASSED*",
        ],
        consecutive=False,
    )


def free_port() -> int:
    for port in range(8700, 8800):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 8700-8799")


@pytest.mark.slow
def test_the_guides_serve_command_serves_the_example_at_api_crm(
    tmp_path: Path, memory_crm_example: Path
) -> None:
    assert (
        "ATOM_CRM_PROVIDER=memory ATOM_API_KEYS=my-long-random-key:acme:alice atom-host serve"
        in GUIDE
    )
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(sys.path),  # the example, where it is not pip-installed
        "ATOM_CRM_PROVIDER": "memory",
        "ATOM_API_KEYS": "my-long-random-key:acme:alice",
        "ATOM_DATA_DIR": str(tmp_path / "data"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "atom_host_stub", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = None
        for _ in range(150):
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/crm/contacts",
                    headers={"Authorization": "Bearer my-long-random-key"},
                )
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        assert answer is not None, server.stderr.read().decode() if server.stderr else ""
        assert answer.status_code == 200, answer.text
        assert answer.json()["meta"]["provider"] == "memory"
    finally:
        server.terminate()
        server.wait(timeout=10)
