"""The change feed's tests run the real host stack of the route tests."""

from tests.api.conftest import migrated_template, stack  # noqa: F401 - shared fixtures
