"""Storage: the database, the tables, token encryption and repositories."""

from atom_hubspot.storage.crypto import TokenCipher, ensure_demo_key, new_key_spec
from atom_hubspot.storage.db import Database, migrate, to_async_url

__all__ = ["Database", "TokenCipher", "ensure_demo_key", "migrate", "new_key_spec", "to_async_url"]
