"""The change feed's tests run the real host stack of the route tests."""

from tests.api.conftest import migrated_template  # noqa: F401 - a shared session fixture
