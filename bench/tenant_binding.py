"""What binding each PostgreSQL transaction to its tenant costs, next to the setting it replaced.

    python -m bench.tenant_binding [--transactions 2000] [--rounds 5]

A per-request transaction as the plugin runs it (scope statement, then the caller's connection
lookup, then commit), as a non-owner role that row-level security applies to, in alternating
rounds: `set_config('app.tenant_id', …, true)` (the old scope, which the policies no longer
read) against `hubspot_bind_tenant(…)` (an upsert into an unlogged table by a SECURITY DEFINER
function, which assigns the transaction an id). A throw-away database on
ATOM_BENCH_POSTGRES_URL's server (default the local one) is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from bench._harness import Table, median, percentile, ratio

PG = os.environ.get("ATOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOOKUP = "SELECT id FROM hubspot_connections WHERE tenant_id = %s AND user_id = %s LIMIT 1"
SCOPES = {
    "set_config (before)": "SELECT set_config('app.tenant_id', %s, true)",
    "hubspot_bind_tenant (now)": "SELECT hubspot_bind_tenant(%s)",
}


def run(transactions: int, rounds: int) -> None:
    import psycopg

    from atom_hubspot.storage.db import migrate

    base, _, _ = PG.rpartition("/")
    name = f"atom_bench_{uuid.uuid4().hex[:10]}"
    role = f"atom_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    url = f"{base}/{name}"
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            owner.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
            )
            for t in range(50):
                owner.execute(
                    "INSERT INTO hubspot_connections (id, tenant_id, user_id, portal_id, "
                    "auth_kind, scopes) VALUES (%s, %s, 'u', %s, 'oauth', '[]')",
                    (f"c{t}", f"t{t}", 1000 + t),
                )
        scheme, _, rest = base.partition("://")
        app_url = f"{scheme}://{role}@{rest.split('@', 1)[-1]}/{name}"
        samples: dict[str, list[float]] = {mode: [] for mode in SCOPES}
        with psycopg.connect(app_url) as conn:
            for _ in range(rounds):
                for mode, scope in SCOPES.items():
                    for i in range(transactions):
                        tenant = f"t{i % 50}"
                        t0 = time.perf_counter()
                        conn.execute(scope, (tenant,))
                        conn.execute(LOOKUP, (tenant, "u")).fetchone()
                        conn.commit()
                        samples[mode].append((time.perf_counter() - t0) * 1e6)
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    table = Table(
        f"One request's transaction as a non-owner role ({transactions} x {rounds} rounds each, "
        "alternating)",
        ["scope", "p50 µs", "p99 µs", "p50 vs before"],
    )
    before = median(samples["set_config (before)"])
    for mode, values in samples.items():
        table.add(mode, median(values), percentile(values, 99), ratio(median(values), before))
    table.notes.append(
        "loopback psycopg, autocommit off; the set_config row sees no rows any more (the "
        "policies read only the binding), so it measures the round trips alone"
    )
    table.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    a = parser.parse_args()
    run(a.transactions, a.rounds)


if __name__ == "__main__":
    main()
