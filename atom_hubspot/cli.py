"""`atom-host hubspot …`: the plugin's own commands (keys, schema, connections).

The database URL comes from the host (ATOM_DATABASE_URL, default a SQLite file in
ATOM_DATA_DIR); `--database-url` overrides it. Nothing here prints a token.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from atom_hubspot.errors import HubSpotError


def _cross_tenant_url() -> str | None:
    """The role for work across tenants (PostgreSQL), from the environment."""
    return os.environ.get("ATOM_HUBSPOT_CROSS_TENANT_DATABASE_URL") or None


def _database_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    host = obj.get("host") if isinstance(obj, dict) else None
    url = getattr(getattr(host, "settings", None), "database_url", None)
    if url:
        return str(url)
    data_dir = Path(os.environ.get("ATOM_DATA_DIR") or ".atom").expanduser().absolute()
    return os.environ.get("ATOM_DATABASE_URL") or f"sqlite:///{data_dir / 'atom.sqlite3'}"


def _keys(explicit: str | None) -> str:
    spec = explicit or os.environ.get("ATOM_HUBSPOT_ENCRYPTION_KEYS")
    if not spec:
        raise click.UsageError(
            "ATOM_HUBSPOT_ENCRYPTION_KEYS is not set. Put the NEW key first and keep the old "
            "ones after it, e.g. ATOM_HUBSPOT_ENCRYPTION_KEYS=k2:...,k1:..."
        )
    return spec


@click.group("hubspot")
def hubspot() -> None:
    """HubSpot plugin: encryption keys, schema, connections and the mirror's sync."""


@hubspot.command("generate-key")
@click.option("--key-id", default=None, help="Id for the key (default: a random one).")
def generate_key(key_id: str | None) -> None:
    """Print a new key entry for ATOM_HUBSPOT_ENCRYPTION_KEYS (32 random bytes).

    To rotate: put the new entry FIRST and keep the old ones after it, restart, then run
    `atom-host hubspot rotate-keys`; drop the old key once it reports nothing left.
    """
    from atom_hubspot.storage.crypto import new_key_spec

    try:
        click.echo(new_key_spec(key_id))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--key-id") from None


@hubspot.command("rotate-keys")
@click.option("--database-url", default=None, help="Default: ATOM_DATABASE_URL.")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option(
    "--keys",
    "keys_spec",
    default=None,
    hidden=True,
    help="Key ring (default: ATOM_HUBSPOT_ENCRYPTION_KEYS); avoid: shows in ps.",
)
def rotate_keys_command(database_url: str | None, batch_size: int, keys_spec: str | None) -> None:
    """Re-encrypt every stored token under the first key (batches; safe to stop and re-run)."""
    from atom_hubspot.storage.crypto import TokenCipher
    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.repository import ConnectionRepository
    from atom_hubspot.storage.rotation import pending_rotation, rotate_keys

    try:
        cipher = TokenCipher.from_spec(_keys(keys_spec))
    except ValueError as exc:
        raise click.UsageError(f"ATOM_HUBSPOT_ENCRYPTION_KEYS is invalid: {exc}") from None
    url = _database_url(database_url)

    async def run() -> Any:
        db = Database(url, cross_tenant_url=_cross_tenant_url())
        try:
            await db.check_migrated()
            total = await pending_rotation(db, cipher.primary_key_id)
            if total == 0:
                return None, 0
            with click.progressbar(
                length=total, label="Re-encrypting tokens", file=sys.stderr
            ) as bar:
                report = await rotate_keys(
                    db, ConnectionRepository(cipher), batch_size=batch_size, progress=bar.update
                )
            return report, total
        finally:
            await db.dispose()

    try:
        report, _total = asyncio.run(run())
    except HubSpotError as exc:
        raise click.ClickException(exc.message) from None
    if report is None:
        click.echo(f"Nothing to do: every stored token is under key {cipher.primary_key_id!r}.")
        return
    click.echo(f"Re-encrypted {report.rotated} value(s) under key {cipher.primary_key_id!r}.")
    if report.failed:
        click.echo(
            f"{len(report.failed)} value(s) could not be decrypted with any configured key and "
            "were left untouched (connections marked token_undecryptable): "
            + ", ".join(report.failed[:20]),
            err=True,
        )
        sys.exit(1)
    click.echo("Done. The old key(s) can now be removed from ATOM_HUBSPOT_ENCRYPTION_KEYS.")


@hubspot.command("env-template")
def env_template_command() -> None:
    """Print .env.hubspot.template: every HubSpot setting with its default and description."""
    from atom_hubspot.env_template import env_template

    click.echo(env_template(), nl=False)


@hubspot.command("schema-sql")
def schema_sql_command() -> None:
    """Print the PostgreSQL DDL of the migrations (what migrations/hubspot_schema.sql holds)."""
    from atom_hubspot.storage.db import schema_sql

    click.echo(schema_sql(), nl=False)


@hubspot.command("connections")
@click.option("--database-url", default=None, help="Default: ATOM_DATABASE_URL.")
@click.option("--tenant", default=None, help="Only this tenant.")
def connections_command(database_url: str | None, tenant: str | None) -> None:
    """List HubSpot connections: tenant, user, portal, kind, status, token expiry (no tokens)."""
    import sqlalchemy as sa

    from atom_hubspot.storage.db import Database
    from atom_hubspot.storage.models import Connection, Token

    async def run() -> list[Any]:
        db = Database(_database_url(database_url), cross_tenant_url=_cross_tenant_url())
        try:
            await db.check_migrated()
            async with db.session(tenant, read_only=True) as s:
                q = (
                    sa.select(Connection, Token.expires_at, Token.failure_count)
                    .outerjoin(Token, Token.connection_id == Connection.id)
                    .order_by(Connection.tenant_id, Connection.user_id, Connection.portal_id)
                )
                if tenant:
                    q = q.where(Connection.tenant_id == tenant)
                return list((await s.execute(q)).all())
        finally:
            await db.dispose()

    try:
        rows = asyncio.run(run())
    except HubSpotError as exc:
        raise click.ClickException(exc.message) from None
    if not rows:
        click.echo("No HubSpot connections.")
        return
    # The environment last: scripts reading the earlier columns keep working.
    click.echo("tenant\tuser\tportal\tkind\tstatus\tdefault\texpires_at\tfailures\tenvironment")
    for conn, expires_at, failures in rows:
        click.echo(
            f"{conn.tenant_id}\t{conn.user_id}\t{conn.portal_id}\t{conn.auth_kind}\t"
            f"{conn.status}{'/' + conn.problem if conn.problem else ''}\t"
            f"{'yes' if conn.is_default else ''}\t"
            f"{expires_at.isoformat() if expires_at else '-'}\t{failures or 0}\t{conn.environment}"
        )


def _bar(done: int, total: int | None, width: int = 24) -> str:
    if not total:
        return "[" + "·" * width + "]"
    filled = min(width, int(width * done / max(1, total)))
    return "[" + "#" * filled + "·" * (width - filled) + "]"


@hubspot.command("sync")
@click.option("--portal", "portal_id", type=int, default=None, help="Only this portal.")
@click.option("--full", is_flag=True, help="List every record again (otherwise: changes only).")
@click.option(
    "--objects",
    default=None,
    help="Comma-separated: contacts,companies,deals,pipelines,lists,campaigns (default: all).",
)
@click.option("--database-url", default=None, help="Default: ATOM_DATABASE_URL.")
@click.option(
    "--sandbox-url",
    default=None,
    help="Sync from a standalone offline sandbox (atom-host sandbox) instead of HubSpot.",
)
def sync_command(
    portal_id: int | None,
    full: bool,
    objects: str | None,
    database_url: str | None,
    sandbox_url: str | None,
) -> None:
    """Fill or refresh the local mirror of connected portals, with progress and a summary.

    Resumes a run that was interrupted (from the last page stored). Takes each portal's sync
    lease: a portal another process is syncing right now is skipped, and said so.
    """
    import time as _time

    from atom_host_stub.contract import HostContext
    from atom_hubspot.sync import SYNC_TYPES, SyncProgress

    wanted = [o.strip() for o in (objects or ",".join(SYNC_TYPES)).split(",") if o.strip()]
    unknown = [o for o in wanted if o not in SYNC_TYPES]
    if unknown:
        raise click.UsageError(
            f"unknown object type(s): {', '.join(unknown)}; use {','.join(SYNC_TYPES)}"
        )
    url = _database_url(database_url)
    data_dir = Path(os.environ.get("ATOM_DATA_DIR") or ".atom").expanduser().absolute()
    context = HostContext(env=dict(os.environ), data_dir=data_dir, database_url=url)
    tty = sys.stderr.isatty()
    last_line = [0.0]

    def progress(p: SyncProgress) -> None:
        now = _time.monotonic()
        done = p.expected is not None and p.processed >= p.expected
        if not tty and now - last_line[0] < 2.0 and not done:
            return
        last_line[0] = now
        eta = f"ETA {p.eta_s:.0f} s" if p.eta_s is not None else "ETA ?"
        line = (
            f"portal {p.portal_id} {p.object_type:<9} {p.mode:<11} "
            f"{_bar(p.processed, p.expected)} {p.processed}/{p.expected or '?'} "
            f"{p.rate:.0f}/s {eta}"
        )
        click.echo(("\r" + line) if tty else line, nl=not tty, err=True)

    async def run() -> list[Any]:
        from atom_hubspot.plugin import effective_env
        from atom_hubspot.runtime import HubSpotRuntime
        from atom_hubspot.settings import load_settings

        env = dict(os.environ)
        if sandbox_url:
            from atom_hubspot.demo import demo_env

            env.update(demo_env(context, sandbox_url=sandbox_url))
        settings, issues = load_settings(effective_env(env, context))
        if settings is None:
            raise click.ClickException("; ".join(i.message for i in issues))
        runtime = await HubSpotRuntime.start(settings, context, start_scheduler=False)
        try:
            assert runtime.mirror_sync is not None
            portals = (
                [portal_id]
                if portal_id is not None
                else await runtime.mirror_sync.connected_portals()
            )
            reports = []
            for p in portals:
                reports.append(
                    await runtime.mirror_sync.sync_portal(
                        p, objects=wanted, full=full, progress=progress
                    )
                )
                if tty:
                    click.echo("", err=True)
            return reports
        finally:
            await runtime.aclose()

    try:
        reports = asyncio.run(run())
    except HubSpotError as exc:
        raise click.ClickException(exc.message) from None
    if not reports:
        click.echo("No connected portals to sync.")
        return
    failed = False
    for report in reports:
        if report.skipped:
            click.echo(f"portal {report.portal_id}: skipped — {report.skipped}")
            continue
        click.echo(f"portal {report.portal_id}:")
        for r in report.results:
            status = f"FAILED: {r.error}" if r.error else "ok"
            extra = f", {r.archived} archived" if r.archived else ""
            click.echo(
                f"  {r.object_type:<10} {r.mode:<11} {r.records:>8} records{extra} "
                f"in {r.seconds:.1f} s  {status}"
            )
            failed = failed or r.error is not None
    if failed:
        raise SystemExit(1)


@hubspot.command("webhooks")
@click.option(
    "--check",
    is_flag=True,
    help="Read the app's Webhooks Journal subscriptions back from HubSpot and say what is "
    "missing (exit 1 when something is).",
)
@click.option(
    "--sandbox-url",
    default=None,
    help="Check against a standalone offline sandbox (atom-host sandbox) instead of HubSpot.",
)
def webhooks_command(check: bool, sandbox_url: str | None) -> None:
    """What the HubSpot app must subscribe to for the mirror to follow by change events."""
    from atom_host_stub.contract import HostContext
    from atom_hubspot.feed.subscriptions import (
        journal_subscriptions,
        missing_journal_subscriptions,
        push_subscriptions,
    )
    from atom_hubspot.plugin import effective_env
    from atom_hubspot.settings import load_settings

    env = dict(os.environ)
    data_dir = Path(os.environ.get("ATOM_DATA_DIR") or ".atom").expanduser().absolute()
    context = HostContext(env=env, data_dir=data_dir, database_url="")
    if sandbox_url:
        from atom_hubspot.demo import demo_env

        env.update(demo_env(context, sandbox_url=sandbox_url))
    settings, issues = load_settings(effective_env(env, context))
    if settings is None:
        raise click.ClickException("; ".join(i.message for i in issues))
    public = (env.get("ATOM_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    target = settings.webhook_url or f"{public}/webhooks/hubspot"
    click.echo(f"HUBSPOT_FEED_MODE={settings.feed_mode}")
    click.echo("Push (webhooks), in the HubSpot app's webhook settings:")
    click.echo(f"  target URL: {target}")
    click.echo("  subscriptions:")
    for sub in push_subscriptions():
        click.echo(f"    {sub}")
    click.echo("Pull (Webhooks Journal), POST /webhooks-journal/subscriptions/2026-03 with:")
    for body in journal_subscriptions():
        click.echo(f"    {body}")
    if not check:
        return

    async def read() -> list[dict[str, Any]]:
        from atom_hubspot.client import HubSpotHTTP
        from atom_hubspot.client.journal import (
            SUBSCRIPTION_SCOPES,
            AppToken,
        )
        from atom_hubspot.client.journal import (
            journal_subscriptions as read_subscriptions,
        )
        from atom_hubspot.client.oauth import OAuthAPI

        http = HubSpotHTTP(settings)
        try:
            app = settings.app
            token = AppToken(OAuthAPI(http, app.client_id, app.secret), SUBSCRIPTION_SCOPES)
            return await read_subscriptions(http, token)
        finally:
            await http.aclose()

    try:
        existing = asyncio.run(read())
    except HubSpotError as exc:
        raise click.ClickException(
            f"cannot read the journal subscriptions: {exc.message}"
        ) from None
    missing = missing_journal_subscriptions(existing)
    click.echo(f"Journal subscriptions in HubSpot: {len(existing)}")
    if not missing:
        click.echo("  every object type the mirror keeps is covered")
        return
    for body in missing:
        click.echo(f"  missing: {body}")
    raise SystemExit(1)
