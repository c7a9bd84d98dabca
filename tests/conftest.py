"""Fixtures shared by every test area: databases, keys, a complete plugin environment.

PostgreSQL-backed tests use ATOM_TEST_POSTGRES_URL (default the local server). Where it is not
reachable they skip with a message saying how to run them — unless ATOM_REQUIRE_POSTGRES=1
(CI sets it), which turns that skip into a failure. ATOM_REQUIRE_BROWSER=1 and
ATOM_REQUIRE_REDIS=1 do the same for the headless-Chromium and Redis-backed tests.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _required(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def skip_or_fail(reason: str, *, require_var: str) -> None:
    """Skip on a laptop; fail where `require_var` says the dependency must be there (CI)."""
    if _required(require_var):
        pytest.fail(f"{reason} ({require_var}=1 makes this a failure, not a skip)")
    pytest.skip(reason)


def _admin_pg_url() -> str:
    return os.environ.get("ATOM_TEST_POSTGRES_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A reachable PostgreSQL server URL (plain `postgresql://`), or skip/fail."""
    url = _admin_pg_url()
    try:
        import psycopg
    except ImportError:
        skip_or_fail(
            "psycopg is not installed: pip install -e '.[postgres]' to run PostgreSQL tests",
            require_var="ATOM_REQUIRE_POSTGRES",
        )
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        skip_or_fail(
            f"PostgreSQL not reachable at {url} ({type(exc).__name__}); start it or set "
            "ATOM_TEST_POSTGRES_URL=postgresql://user@host:port/db to run these tests",
            require_var="ATOM_REQUIRE_POSTGRES",
        )
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"atom_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def non_owner_role(database_url: str, admin_url: str, prefix: str = "atom_app") -> Iterator[str]:
    """`database_url` reached as a fresh LOGIN role that owns nothing and is no superuser (so
    row-level security applies to it), with rights on every table; dropped afterwards."""
    import psycopg

    role = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        c.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
    base, _, dbname = database_url.rpartition("/")
    scheme, _, rest = base.partition("://")
    host = rest.split("@", 1)[-1]
    try:
        yield f"{scheme}://{role}@{host}/{dbname}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as c:
            c.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
            c.execute(f'REVOKE ALL ON SCHEMA public FROM "{role}"')
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"  # noqa: S608
            )
            c.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis server (ATOM_TEST_REDIS_URL, default the local one), or skip/fail."""
    import socket
    from urllib.parse import urlsplit

    url = os.environ.get("ATOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1):
            pass
    except OSError as exc:
        skip_or_fail(
            f"Redis not reachable at {parts.hostname}:{parts.port} ({exc.strerror}); start it or "
            "set ATOM_TEST_REDIS_URL=redis://host:port/db to run these tests",
            require_var="ATOM_REQUIRE_REDIS",
        )
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A plain SQLite URL to a file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'atom.sqlite3'}"


def make_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@pytest.fixture
def encryption_keys() -> str:
    """A valid ATOM_HUBSPOT_ENCRYPTION_KEYS value with one fresh key."""
    return f"k1:{make_key()}"


# The offline sandbox accepts these credentials (see atom_hubspot.sandbox).
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a fake for the offline sandbox


@pytest.fixture
def hubspot_env(encryption_keys: str, tmp_path: Path) -> dict[str, str]:
    """A complete, valid environment for the plugin pointed at the (in-process) sandbox."""
    return {
        "HUBSPOT_CLIENT_ID": SANDBOX_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "ATOM_HUBSPOT_ENCRYPTION_KEYS": encryption_keys,
        "HUBSPOT_API_BASE_URL": "http://sandbox.local",
        "HUBSPOT_AUTHORIZE_URL": "http://sandbox.local/oauth/authorize",
        "HUBSPOT_REDIRECT_URI": "http://host.local/auth/hubspot/callback",
        "ATOM_DATA_DIR": str(tmp_path / "data"),
        # No background mirror sync unless a test turns it on: it would call the sandbox.
        "HUBSPOT_SYNC_INTERVAL": "0",
    }


@pytest.fixture(scope="session")
def browser_binary() -> str:
    """Debian's chromium for the browser tests, or skip/fail."""
    import shutil

    path = shutil.which("chromium")
    if not path or not shutil.which("chromedriver"):
        skip_or_fail(
            "chromium/chromedriver not installed: apt-get install -y chromium chromium-driver",
            require_var="ATOM_REQUIRE_BROWSER",
        )
    return path  # type: ignore[return-value]


pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
MEMORY_EXAMPLE = REPO / "examples" / "memory-crm"


@pytest.fixture(scope="session")
def memory_crm_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The in-memory CRM example plugin, discoverable through its `memory` entry point: as
    installed by `pip install -e examples/memory-crm` (CI does), or else made so for this
    session by putting it on sys.path beside a dist-info, as pip would."""
    import importlib.metadata
    import sys

    try:
        importlib.metadata.distribution("atom-memory-crm")
    except importlib.metadata.PackageNotFoundError:
        from tests.plugin_dist import write_distribution

        site = tmp_path_factory.mktemp("memory-crm-site")
        write_distribution(site, "atom-memory-crm", "0.1.0", {"memory": "atom_memory_crm.plugin"})
        added = [str(site), str(MEMORY_EXAMPLE)]
        sys.path[:0] = added
        try:
            yield MEMORY_EXAMPLE
        finally:
            for entry in added:
                sys.path.remove(entry)
        return
    yield MEMORY_EXAMPLE
