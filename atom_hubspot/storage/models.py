"""The plugin's tables (SQLAlchemy 2.0, typed). Alembic in `migrations/` creates them; nothing
here creates a table. Token columns hold ciphertext only (see storage/crypto.py).

Tenant-owned tables carry `tenant_id`; on PostgreSQL row-level security limits every query
to the tenant set for the transaction (see Database.session).

Every table is in this one module on purpose: Alembic and the schema test compare one metadata,
and the row-level security policies are written against the whole set of tenant tables.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}  # noqa: RUF012


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # On PostgreSQL a trigger keeps it too (writes that bypass the ORM included).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


AUTH_KINDS = ("oauth", "private_app")
# The HubSpot app a connection was made with (settings.Environment); used only under it.
ENVIRONMENTS = ("production", "qa")
CONNECTION_STATUSES = ("connected", "reauth_required", "revoked")


class Connection(_Timestamps, Base):
    """One principal's link to one HubSpot portal."""

    __tablename__ = "hubspot_connections"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "user_id", "portal_id", name="uq_hubspot_connections_owner_portal"
        ),
        sa.Index("ix_hubspot_connections_tenant_user", "tenant_id", "user_id"),
        # Row-level security of the mirror asks "has this tenant a connection to the portal?".
        sa.Index("ix_hubspot_connections_portal_tenant", "portal_id", "tenant_id"),
        sa.CheckConstraint(
            "auth_kind in ('oauth','private_app')", name="ck_hubspot_connections_auth_kind"
        ),
        sa.CheckConstraint(
            "status in ('connected','reauth_required','revoked')",
            name="ck_hubspot_connections_status",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    user_id: Mapped[str] = mapped_column(sa.String(128))
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    hub_domain: Mapped[str | None] = mapped_column(sa.String(255))
    auth_kind: Mapped[str] = mapped_column(sa.String(16))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(sa.String(20), default="connected")
    is_default: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Why the connection cannot be used right now (e.g. token_undecryptable); None when fine.
    problem: Mapped[str | None] = mapped_column(sa.String(64))
    # The environment (HUBSPOT_ENVIRONMENT) it was made in: its tokens belong to that app.
    environment: Mapped[str] = mapped_column(
        sa.String(16), default="production", server_default="production"
    )


class Token(_Timestamps, Base):
    """A connection's tokens, encrypted; AAD binds each to tenant, connection, portal, column."""

    __tablename__ = "hubspot_tokens"
    __table_args__ = (
        sa.Index("ix_hubspot_tokens_key_id", "key_id"),
        sa.Index("ix_hubspot_tokens_tenant", "tenant_id"),
    )

    connection_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    access_token: Mapped[str] = mapped_column(sa.Text)  # ciphertext
    refresh_token: Mapped[str | None] = mapped_column(sa.Text)  # ciphertext; None for private apps
    key_id: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_code: Mapped[str | None] = mapped_column(sa.String(64))


class OAuthState(Base):
    """A pending authorization: only the state's hash is kept; single use, short-lived."""

    __tablename__ = "hubspot_oauth_states"
    __table_args__ = (
        sa.Index("ix_hubspot_oauth_states_expires_at", "expires_at"),
        sa.Index("ix_hubspot_oauth_states_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    user_id: Mapped[str] = mapped_column(sa.String(128))
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    return_to: Mapped[str | None] = mapped_column(sa.Text)  # from configuration only
    # The environment the flow started in: its code is exchanged with that app only.
    environment: Mapped[str] = mapped_column(
        sa.String(16), default="production", server_default="production"
    )
    code_verifier: Mapped[str | None] = mapped_column(sa.Text)  # ciphertext (PKCE)
    key_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PortalDetails(_Timestamps, Base):
    """What introspection and account details said about a connection's portal and user."""

    __tablename__ = "hubspot_portal_details"
    __table_args__ = (
        sa.Index("ix_hubspot_portal_details_tenant_portal", "tenant_id", "portal_id"),
    )

    connection_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    hub_domain: Mapped[str | None] = mapped_column(sa.String(255))
    hubspot_user: Mapped[str | None] = mapped_column(sa.String(320))
    hubspot_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    app_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    account_type: Mapped[str | None] = mapped_column(sa.String(64))
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    company_currency: Mapped[str | None] = mapped_column(sa.String(8))
    ui_domain: Mapped[str | None] = mapped_column(sa.String(255))
    data_hosting_location: Mapped[str | None] = mapped_column(sa.String(32))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class SyncCursor(_Timestamps, Base):
    """Where an incremental read of one object type stopped, per connection."""

    __tablename__ = "hubspot_sync_cursors"
    __table_args__ = (
        sa.UniqueConstraint(
            "connection_id", "object_type", name="uq_hubspot_sync_cursors_conn_type"
        ),
        sa.Index("ix_hubspot_sync_cursors_tenant", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    connection_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("hubspot_connections.id", ondelete="CASCADE")
    )
    object_type: Mapped[str] = mapped_column(sa.String(64))
    cursor: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


SEND_STATUSES = ("pending", "claimed", "sent", "partial", "failed", "cancelled")


class ScheduledSend(_Timestamps, Base):
    """A marketing email to send later (HubSpot has no scheduling for single sends)."""

    __tablename__ = "hubspot_scheduled_sends"
    __table_args__ = (
        sa.Index("ix_hubspot_scheduled_sends_status_send_at", "status", "send_at"),
        sa.Index("ix_hubspot_scheduled_sends_tenant_user", "tenant_id", "user_id"),
        sa.CheckConstraint(
            "status in ('pending','claimed','sent','partial','failed','cancelled')",
            name="ck_hubspot_scheduled_sends_status",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    user_id: Mapped[str] = mapped_column(sa.String(128))
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    connection_id: Mapped[str] = mapped_column(sa.String(36))
    email_id: Mapped[int] = mapped_column(sa.BigInteger)
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    contact_properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    custom_properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(sa.String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    results: Mapped[Any | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(sa.Text)


class RateWindow(Base):
    """Requests counted in one fixed window of one budget key (shared budget on PostgreSQL)."""

    __tablename__ = "hubspot_rate_windows"
    __table_args__ = (sa.Index("ix_hubspot_rate_windows_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    window_start: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # epoch ms
    count: Mapped[int] = mapped_column(sa.Integer, default=0)


class Lease(Base):
    """A named job held by one process until `expires_at` unless it renews (storage/leases.py).

    `term` grows by one each time another holder takes the lease over, so work stamped with
    the term it started under can be told apart from a later holder's.
    """

    __tablename__ = "hubspot_leases"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    term: Mapped[int] = mapped_column(sa.BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


FEED_EVENT_STATUSES = ("pending", "applied", "parked", "skipped")


class FeedEvent(Base):
    """One change event from HubSpot (webhook or journal), kept until applied to the mirror.

    Stored before the delivery is answered, so an event HubSpot was told we have is never lost;
    (portal_id, event_id) is unique, so a redelivery is stored once. Not tenant-owned: a portal's
    events serve every tenant connected to it, and only the applier reads them.
    """

    __tablename__ = "hubspot_feed_events"
    __table_args__ = (
        sa.UniqueConstraint("portal_id", "event_id", name="uq_hubspot_feed_events_portal_event"),
        sa.Index("ix_hubspot_feed_events_status_occurred", "status", "occurred_at"),
        sa.Index("ix_hubspot_feed_events_portal_object", "portal_id", "object_type", "object_id"),
        sa.CheckConstraint(
            "status in ('pending','applied','parked','skipped')",
            name="ck_hubspot_feed_events_status",
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    event_id: Mapped[int] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.String(16))  # webhook | journal
    subscription_type: Mapped[str] = mapped_column(sa.String(128))
    object_type: Mapped[str | None] = mapped_column(sa.String(32))
    object_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[int] = mapped_column(sa.BigInteger)  # epoch ms, as HubSpot sends it
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FeedDelivery(Base):
    """Signatures of recent deliveries: the same signed request seen twice is a replay."""

    __tablename__ = "hubspot_feed_deliveries"
    __table_args__ = (sa.Index("ix_hubspot_feed_deliveries_received_at", "received_at"),)

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeedHealth(Base):
    """Per-portal feed counters (portal 0: deliveries no portal can be told from, such as
    those whose signature failed)."""

    __tablename__ = "hubspot_feed_health"

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    events_received: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    events_unknown_portal: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signature_failures: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_signature_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_signature_failure: Mapped[str | None] = mapped_column(sa.String(64))
    journal_offset: Mapped[str | None] = mapped_column(sa.String(128))
    journal_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --------------------------------------------------------------------------- the mirror
# A copy of each connected portal's CRM, kept by the sync (atom_hubspot/sync) and written only
# through storage/mirror/. Rows belong to a portal, not a tenant: on PostgreSQL row-level
# security shows them to the tenants that have a connection to that portal.

MIRROR_OBJECT_TYPES = ("contacts", "companies", "deals")
# What the sync keeps a state for: the records, then the smaller portal-wide sets.
MIRROR_SYNC_TYPES = (*MIRROR_OBJECT_TYPES, "pipelines", "lists", "campaigns")
SYNC_STATUSES = ("idle", "running", "current", "failed")


def _live_index(object_type: str, name: str, *columns: str) -> sa.Index:
    """A partial index over one object type's live records (portal first)."""
    where = sa.text(f"object_type = '{object_type}' AND NOT archived")
    return sa.Index(
        f"ix_hubspot_mirror_{object_type}_{name}",
        "portal_id",
        *columns,
        sqlite_where=where,
        postgresql_where=where,
    )


class MirrorRecord(Base):
    """One contact, company or deal of a portal, with every property HubSpot gave."""

    __tablename__ = "hubspot_mirror_records"
    __table_args__ = (
        sa.Index(
            "ix_hubspot_mirror_records_live", "portal_id", "object_type", "archived", "record_id"
        ),
        sa.Index("ix_hubspot_mirror_records_created", "portal_id", "object_type", "created_at"),
        sa.Index("ix_hubspot_mirror_records_updated", "portal_id", "object_type", "updated_at"),
        sa.Index("ix_hubspot_mirror_records_merged", "portal_id", "object_type", "merged_into"),
        # The analytics' GROUP BYs and ranges, each over one object type's live records.
        _live_index("contacts", "stage", "lifecyclestage"),
        _live_index(
            "deals",
            "figures",
            "pipeline",
            "dealstage",
            "amount_scale",
            "closedate",
            "amount_hi",
            "amount_lo",
        ),
    )

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    object_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # HubSpot's createdAt
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # HubSpot's updatedAt
    archived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when HubSpot merged this record into another: reads resolve to that one.
    merged_into: Mapped[int | None] = mapped_column(sa.BigInteger)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Properties kept in real columns too, written with the JSON (storage/mirror/records.py):
    # text as HubSpot gave it, instants as YYYY-MM-DDTHH:MM:SS.mmmZ (UTC), and the amount as
    # (amount_hi * 10^9 + amount_lo) * 10^-amount_scale.
    lifecyclestage: Mapped[str | None] = mapped_column(sa.Text)
    pipeline: Mapped[str | None] = mapped_column(sa.Text)
    dealstage: Mapped[str | None] = mapped_column(sa.Text)
    createdate: Mapped[str | None] = mapped_column(sa.String(24))
    closedate: Mapped[str | None] = mapped_column(sa.String(24))
    amount_scale: Mapped[int | None] = mapped_column(sa.Integer)
    amount_hi: Mapped[int | None] = mapped_column(sa.BigInteger)
    amount_lo: Mapped[int | None] = mapped_column(sa.BigInteger)


class MirrorAssociation(Base):
    """A link between two mirrored records, as HubSpot reported it from `from_type`'s side."""

    __tablename__ = "hubspot_mirror_associations"
    __table_args__ = (
        sa.Index("ix_hubspot_mirror_associations_to", "portal_id", "to_type", "to_id", "from_type"),
    )

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    from_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    from_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    to_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    to_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    type_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MirrorPipeline(Base):
    """A pipeline of a portal (deals), as HubSpot's pipelines API answered it."""

    __tablename__ = "hubspot_mirror_pipelines"

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    object_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    label: Mapped[str | None] = mapped_column(sa.Text)
    display_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    archived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MirrorStage(Base):
    """A stage of a mirrored pipeline; `probability` and `is_closed` from its metadata."""

    __tablename__ = "hubspot_mirror_stages"

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    object_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    stage_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    label: Mapped[str | None] = mapped_column(sa.Text)
    display_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    probability: Mapped[float | None] = mapped_column(sa.Float)
    is_closed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    archived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class MirrorList(Base):
    """A list of a portal (the lists API's id and definition)."""

    __tablename__ = "hubspot_mirror_lists"

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    list_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    processing_type: Mapped[str | None] = mapped_column(sa.String(16))
    object_type_id: Mapped[str | None] = mapped_column(sa.String(16))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MirrorListMember(Base):
    """A record in a mirrored list."""

    __tablename__ = "hubspot_mirror_list_members"
    __table_args__ = (sa.Index("ix_hubspot_mirror_list_members_record", "portal_id", "record_id"),)

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    list_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)


class MirrorCampaign(Base):
    """A marketing campaign of a portal, with the properties HubSpot gave."""

    __tablename__ = "hubspot_mirror_campaigns"

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MirrorSyncState(Base):
    """Where the sync of one object type of one portal stands: status, cursor, figures.

    `cursor` is committed after every page, so a killed sync resumes where it stopped.
    `last_success_at` is trusted only when a run ended `current`.
    """

    __tablename__ = "hubspot_mirror_sync_state"
    __table_args__ = (
        sa.CheckConstraint(
            "status in ('idle','running','current','failed')",
            name="ck_hubspot_mirror_sync_state_status",
        ),
    )

    portal_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    object_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="idle")
    mode: Mapped[str | None] = mapped_column(sa.String(16))  # full | incremental
    cursor: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The point up to which the mirror holds every change (the last finished run's bound).
    synced_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    expected: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# Expression indexes on properties inside the JSON, which the migration creates per dialect
# (json_extract on SQLite, ->> on PostgreSQL): one model definition cannot say both.
# Those on properties also kept in real columns went with 0009_mirror_record_columns, which
# indexes the day of `createdate` instead (new contacts per day group by it).
MIRROR_PROPERTY_INDEXES: tuple[tuple[str, str], ...] = (
    ("contacts", "email"),
    ("companies", "domain"),
    ("contacts", "created_day"),
)
EXPRESSION_INDEXES: frozenset[str] = frozenset(
    f"ix_hubspot_mirror_{t}_{p}" for t, p in MIRROR_PROPERTY_INDEXES
)

# Tables of the mirror: rows of a portal, visible on PostgreSQL to its tenants.
MIRROR_TABLES: tuple[str, ...] = (
    "hubspot_mirror_records",
    "hubspot_mirror_associations",
    "hubspot_mirror_pipelines",
    "hubspot_mirror_stages",
    "hubspot_mirror_lists",
    "hubspot_mirror_list_members",
    "hubspot_mirror_campaigns",
    "hubspot_mirror_sync_state",
)


# Tables with a tenant_id column and a row-level security policy on PostgreSQL.
TENANT_TABLES: tuple[str, ...] = (
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_oauth_states",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
)
# Tables whose updated_at a PostgreSQL trigger keeps.
UPDATED_AT_TABLES: tuple[str, ...] = (
    "hubspot_connections",
    "hubspot_tokens",
    "hubspot_portal_details",
    "hubspot_sync_cursors",
    "hubspot_scheduled_sends",
)


class ListSend(_Timestamps, Base):
    """A marketing email sent to lead lists: published by HubSpot, or fanned out by us."""

    __tablename__ = "hubspot_list_sends"
    __table_args__ = (
        sa.Index("ix_hubspot_list_sends_status_send_at", "status", "send_at"),
        sa.Index("ix_hubspot_list_sends_tenant_user", "tenant_id", "user_id"),
        sa.CheckConstraint("way in ('publish','fan_out')", name="ck_hubspot_list_sends_way"),
        sa.CheckConstraint(
            "status in ('pending','running','scheduled','sent','partial','failed','cancelled')",
            name="ck_hubspot_list_sends_status",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    user_id: Mapped[str] = mapped_column(sa.String(128))
    portal_id: Mapped[int] = mapped_column(sa.BigInteger)
    connection_id: Mapped[str] = mapped_column(sa.String(36))
    email_id: Mapped[int] = mapped_column(sa.BigInteger)
    list_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    way: Mapped[str] = mapped_column(sa.String(16))
    send_mode: Mapped[str | None] = mapped_column(sa.String(16))
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    expanded: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(sa.Text)


class ListSendRecipient(Base):
    """One contact of a fan-out send and how far it got."""

    __tablename__ = "hubspot_list_send_recipients"
    __table_args__ = (
        sa.Index("ix_hubspot_list_send_recipients_status", "list_send_id", "status"),
        sa.CheckConstraint(
            "status in ('pending','sending','sent','failed','skipped','unknown','cancelled')",
            name="ck_hubspot_list_send_recipients_status",
        ),
    )

    list_send_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("hubspot_list_sends.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(128))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error: Mapped[Any | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
