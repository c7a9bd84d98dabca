"""Entry points and distributions read from the dist-info folders give importlib.metadata's
answers, and importlib.metadata is asked wherever the folders are not the whole story."""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from pathlib import Path

import pytest

from atom_host_stub import distributions
from atom_host_stub.distributions import entry_points, find_distribution, installed_distributions
from atom_host_stub.manifest import distribution_fields
from tests.plugin_dist import write_distribution

GROUPS = ("atom.plugins", "console_scripts", "pytest11")


def importlib_view(group: str) -> list[tuple[str, str, str]]:
    return sorted(
        (ep.name, ep.value, ep.dist.name if ep.dist else "")
        for ep in importlib.metadata.entry_points(group=group)
    )


def our_view(group: str) -> list[tuple[str, str, str]]:
    found = []
    for ep in entry_points(group):
        name = distribution_fields(ep.dist)["Name"] if ep.dist is not None else ""
        found.append((ep.name, ep.value, name or ""))  # type: ignore[attr-defined]
    return sorted(found)


@pytest.mark.parametrize("group", GROUPS)
def test_the_installed_entry_points_are_importlib_metadatas(group: str) -> None:
    assert installed_distributions() is not None  # the folders were read, not importlib
    assert our_view(group) == importlib_view(group)
    if group == "atom.plugins":
        assert {"hubspot", "memory"} <= {name for name, _, _ in our_view(group)}


def test_the_first_distribution_on_the_path_wins_and_a_new_one_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_distribution(first, "Acme.CRM", "2.0", {"acme": "acme_new"})
    write_distribution(second, "acme-crm", "1.0", {"acme": "acme_old"})
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    assert our_view("atom.plugins") == importlib_view("atom.plugins")
    assert [ep.module for ep in entry_points("atom.plugins") if ep.name == "acme"] == ["acme_new"]
    found = find_distribution("ACME_crm")
    assert found is not None and found.read_text("METADATA") is not None
    assert "Version: 2.0" in (found.read_text("METADATA") or "")
    # A distribution installed after a first look is found on the next (the folder changed).
    write_distribution(first, "zeta-crm", "1.0", {"zeta": "zeta_plugin"})
    assert "zeta" in {ep.name for ep in entry_points("atom.plugins")}
    assert our_view("atom.plugins") == importlib_view("atom.plugins")


def test_an_entry_point_loads_its_module_and_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tiny_ep.py").write_text("class Thing:\n    value = 42\n")
    write_distribution(tmp_path, "tiny-ep", "1.0", {"tiny": "tiny_ep:Thing.value"})
    monkeypatch.syspath_prepend(str(tmp_path))
    (ep,) = [ep for ep in entry_points("atom.plugins") if ep.name == "tiny"]
    assert ep.module == "tiny_ep"
    assert ep.load() == 42


def test_a_zip_on_the_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped_crm-1.0.dist-info/METADATA", "Name: zipped-crm\nVersion: 1.0\n")
        z.writestr(
            "zipped_crm-1.0.dist-info/entry_points.txt", "[atom.plugins]\nzipped = zipped_crm\n"
        )
    monkeypatch.syspath_prepend(str(archive))
    assert installed_distributions() is None
    assert "zipped" in {ep.name for ep in entry_points("atom.plugins")}
    assert our_view("atom.plugins") == importlib_view("atom.plugins")


def test_an_import_hook_that_finds_distributions_is_asked_through_importlib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Finder:
        def find_spec(self, *args: object) -> None:
            return None

        def find_distributions(self, *args: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    assert installed_distributions() is None
    assert our_view("atom.plugins") == importlib_view("atom.plugins")


def test_entry_points_txt_is_read_as_importlib_reads_it() -> None:
    text = (
        "# a comment\n[other]\nx = nope\n\n[atom.plugins]\n  spaced  =  pkg.mod:attr [extra]\n"
        "plain=pkg\n[atom.plugins.more]\ny = no\n"
    )
    found = [(ep.name, ep.value) for ep in distributions.parse_entry_points(text, "atom.plugins")]
    assert found == [("spaced", "pkg.mod:attr [extra]"), ("plain", "pkg")]
