"""Services by capability: callers ask for `crm`, the host picks the plugin that provides it.

When several plugins provide one capability, ATOM_<CAPABILITY>_PROVIDER (e.g. ATOM_CRM_PROVIDER)
chooses; callers never name the provider, which is what lets a product swap HubSpot for another
CRM without touching them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from atom_host_stub.config import provider_variable
from atom_host_stub.contract import Principal, ServiceFactory


class ServiceUnavailable(LookupError):
    """No usable provider for a capability; the message says why and what to set."""


class ServiceRegistry:
    """Factories keyed by capability and plugin; `get_service` builds one per principal."""

    def __init__(
        self,
        provider_for: Callable[[str], str | None],
        is_active: Callable[[str], bool] = lambda plugin: True,
    ) -> None:
        self._provider_for = provider_for
        self._is_active = is_active
        self._factories: dict[str, dict[str, ServiceFactory]] = {}

    def register(self, plugin: str, capability: str, factory: ServiceFactory) -> None:
        providers = self._factories.setdefault(capability, {})
        if plugin in providers:
            raise ValueError(f"plugin {plugin!r} registered capability {capability!r} twice")
        providers[plugin] = factory

    def capabilities(self) -> dict[str, list[str]]:
        """{capability: [plugins providing it]}, active plugins only."""
        return {
            capability: [p for p in providers if self._is_active(p)]
            for capability, providers in sorted(self._factories.items())
        }

    def selected(self, capability: str) -> str:
        """The plugin that serves `capability`, or ServiceUnavailable naming the choices."""
        providers = self.capabilities().get(capability, [])
        variable = provider_variable(capability)
        chosen = self._provider_for(capability)
        if chosen is not None:
            if chosen not in providers:
                offered = ", ".join(providers) or "none"
                raise ServiceUnavailable(
                    f"{variable}={chosen} but that plugin does not provide {capability!r} "
                    f"(providers: {offered})"
                )
            return chosen
        if not providers:
            raise ServiceUnavailable(f"no running plugin provides {capability!r}")
        if len(providers) > 1:
            raise ServiceUnavailable(
                f"capability {capability!r} is provided by both {providers[0]!r} and "
                f"{providers[1]!r}; set {variable} to choose one"
            )
        return providers[0]

    async def get_service(self, capability: str, principal: Principal) -> Any:
        """The selected provider's service for `capability`, built for `principal`."""
        plugin = self.selected(capability)
        return await self._factories[capability][plugin](principal)

    def remove_plugin(self, plugin: str) -> None:
        for providers in self._factories.values():
            providers.pop(plugin, None)
