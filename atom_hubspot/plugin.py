"""The HubSpot plugin's hook implementations: thin, each handing off to the runtime.

This module is what the `atom.plugins` entry point names. It must import cheaply and never
import the host's machinery — only the contract — and must load without the web framework.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import pluggy

from atom_host_stub.contract import ConfigIssue, FeatureState, HostContext
from atom_hubspot.settings import load_settings

hookimpl = pluggy.HookimplMarker("atom")

NAME = "hubspot"


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@hookimpl
def atom_features() -> list[FeatureState]:
    api = _has("fastapi")
    return [
        FeatureState(
            name="http_routes", enabled=api, extra="api",
            reason="" if api else "fastapi is not installed: pip install 'atom-hubspot[api]'",
        ),
        FeatureState(
            name="postgres_storage", enabled=_has("psycopg"), extra="postgres",
            reason="" if _has("psycopg") else "psycopg is not installed: pip install "
            "'atom-hubspot[postgres]'",
        ),
        FeatureState(
            name="redis_rate_limit", enabled=_has("redis") and _has("limits"), extra="redis",
            reason="" if _has("redis") and _has("limits") else "redis/limits not installed: "
            "pip install 'atom-hubspot[redis]'",
        ),
    ]


@hookimpl
def atom_validate_config(env: Mapping[str, str], context: HostContext) -> list[ConfigIssue]:
    _, issues = load_settings(env)
    return issues
