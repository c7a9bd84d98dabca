"""A test plugin with a misspelt hook name; check_pending must catch it."""

import pluggy

hookimpl = pluggy.HookimplMarker("atom")


@hookimpl
def atom_strartup(context: object) -> None:
    """Misspelt on purpose."""
