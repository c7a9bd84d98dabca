"""One OS process asking for a connection's access token (cross-process single-flight test).

Usage: python -m tests.oauth.refresh_worker DB_URL KEYS CONNECTION_ID TENANT REFRESH_TOKEN GO_FILE
Prints one JSON line: how many refreshes this process made and the token it got.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from atom_hubspot.oauth import ConnectionManager
from atom_hubspot.settings import load_settings
from atom_hubspot.storage.db import Database
from tests.oauth.fakes import FakeHubSpot


async def main(url: str, keys: str, connection_id: str, tenant: str, refresh: str, go: str) -> None:
    settings, _ = load_settings(
        {
            "HUBSPOT_CLIENT_ID": "id",
            "HUBSPOT_CLIENT_SECRET": "secret",
            "ATOM_HUBSPOT_ENCRYPTION_KEYS": keys,
        }
    )
    fake = FakeHubSpot(refresh_delay_s=0.5)  # hold the lock long enough for the other process
    fake.refresh_tokens.add(refresh)
    db = Database(url)
    manager = ConnectionManager(settings, db, oauth_api=fake, client_factory=fake.client_factory)
    # Warm the pool so both processes reach the lock at about the same moment.
    async with db.session(tenant):
        pass
    with open(f"{go}.ready.{os.getpid()}", "w") as fh:  # noqa: ASYNC230
        fh.write("ready")
    deadline = time.monotonic() + 20
    while not os.path.exists(go) and time.monotonic() < deadline:  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.005)
    token = await manager.tokens.session(connection_id, tenant).access_token()
    print(json.dumps({"refresh_calls": fake.refresh_calls, "token": token}), flush=True)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
