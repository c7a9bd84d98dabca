-- HubSpot plugin schema for PostgreSQL, generated from the Alembic history in
-- migrations/ (offline mode). Do not edit: regenerate with
--   atom-host hubspot schema-sql > migrations/hubspot_schema.sql

BEGIN;

CREATE TABLE hubspot_alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT hubspot_alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001_initial

CREATE TABLE hubspot_connections (
    id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    user_id VARCHAR(128) NOT NULL, 
    portal_id BIGINT NOT NULL, 
    hub_domain VARCHAR(255), 
    auth_kind VARCHAR(16) NOT NULL, 
    scopes JSONB NOT NULL, 
    status VARCHAR(20) DEFAULT 'connected' NOT NULL, 
    is_default BOOLEAN DEFAULT false NOT NULL, 
    problem VARCHAR(64), 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT uq_hubspot_connections_owner_portal UNIQUE (tenant_id, user_id, portal_id), 
    CONSTRAINT ck_hubspot_connections_auth_kind CHECK (auth_kind in ('oauth','private_app')), 
    CONSTRAINT ck_hubspot_connections_status CHECK (status in ('connected','reauth_required','revoked'))
);

CREATE INDEX ix_hubspot_connections_tenant_user ON hubspot_connections (tenant_id, user_id);

CREATE TABLE hubspot_tokens (
    connection_id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    portal_id BIGINT NOT NULL, 
    access_token TEXT NOT NULL, 
    refresh_token TEXT, 
    key_id VARCHAR(64) NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE, 
    refreshed_at TIMESTAMP WITH TIME ZONE, 
    failure_count INTEGER DEFAULT '0' NOT NULL, 
    last_failure_at TIMESTAMP WITH TIME ZONE, 
    last_failure_code VARCHAR(64), 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (connection_id), 
    FOREIGN KEY(connection_id) REFERENCES hubspot_connections (id) ON DELETE CASCADE
);

CREATE INDEX ix_hubspot_tokens_key_id ON hubspot_tokens (key_id);

CREATE INDEX ix_hubspot_tokens_tenant ON hubspot_tokens (tenant_id);

CREATE TABLE hubspot_oauth_states (
    id VARCHAR(36) NOT NULL, 
    state_hash VARCHAR(64) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    user_id VARCHAR(128) NOT NULL, 
    redirect_uri TEXT NOT NULL, 
    return_to TEXT, 
    code_verifier TEXT, 
    key_id VARCHAR(64), 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    consumed_at TIMESTAMP WITH TIME ZONE, 
    PRIMARY KEY (id), 
    UNIQUE (state_hash)
);

CREATE INDEX ix_hubspot_oauth_states_expires_at ON hubspot_oauth_states (expires_at);

CREATE INDEX ix_hubspot_oauth_states_tenant_user ON hubspot_oauth_states (tenant_id, user_id);

CREATE TABLE hubspot_portal_details (
    connection_id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    portal_id BIGINT NOT NULL, 
    hub_domain VARCHAR(255), 
    hubspot_user VARCHAR(320), 
    hubspot_user_id BIGINT, 
    app_id BIGINT, 
    account_type VARCHAR(64), 
    time_zone VARCHAR(64), 
    company_currency VARCHAR(8), 
    ui_domain VARCHAR(255), 
    data_hosting_location VARCHAR(32), 
    raw JSONB NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (connection_id), 
    FOREIGN KEY(connection_id) REFERENCES hubspot_connections (id) ON DELETE CASCADE
);

CREATE INDEX ix_hubspot_portal_details_tenant_portal ON hubspot_portal_details (tenant_id, portal_id);

CREATE TABLE hubspot_sync_cursors (
    id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    connection_id VARCHAR(36) NOT NULL, 
    object_type VARCHAR(64) NOT NULL, 
    cursor TEXT, 
    state JSONB NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT uq_hubspot_sync_cursors_conn_type UNIQUE (connection_id, object_type), 
    FOREIGN KEY(connection_id) REFERENCES hubspot_connections (id) ON DELETE CASCADE
);

CREATE INDEX ix_hubspot_sync_cursors_tenant ON hubspot_sync_cursors (tenant_id);

CREATE TABLE hubspot_scheduled_sends (
    id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    user_id VARCHAR(128) NOT NULL, 
    portal_id BIGINT NOT NULL, 
    connection_id VARCHAR(36) NOT NULL, 
    email_id BIGINT NOT NULL, 
    recipients JSONB NOT NULL, 
    contact_properties JSONB NOT NULL, 
    custom_properties JSONB NOT NULL, 
    send_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    claimed_by VARCHAR(128), 
    claimed_at TIMESTAMP WITH TIME ZONE, 
    attempts INTEGER DEFAULT '0' NOT NULL, 
    results JSONB, 
    error TEXT, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT ck_hubspot_scheduled_sends_status CHECK (status in ('pending','claimed','sent','partial','failed','cancelled'))
);

CREATE INDEX ix_hubspot_scheduled_sends_status_send_at ON hubspot_scheduled_sends (status, send_at);

CREATE INDEX ix_hubspot_scheduled_sends_tenant_user ON hubspot_scheduled_sends (tenant_id, user_id);

CREATE TABLE hubspot_rate_windows (
    key TEXT NOT NULL, 
    window_start BIGINT NOT NULL, 
    count INTEGER DEFAULT '0' NOT NULL, 
    CONSTRAINT pk_hubspot_rate_windows PRIMARY KEY (key, window_start)
);

CREATE INDEX ix_hubspot_rate_windows_window_start ON hubspot_rate_windows (window_start);

CREATE OR REPLACE FUNCTION hubspot_set_updated_at() RETURNS trigger AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql;

CREATE TRIGGER hubspot_connections_updated_at BEFORE UPDATE ON hubspot_connections FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at();

CREATE TRIGGER hubspot_tokens_updated_at BEFORE UPDATE ON hubspot_tokens FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at();

CREATE TRIGGER hubspot_portal_details_updated_at BEFORE UPDATE ON hubspot_portal_details FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at();

CREATE TRIGGER hubspot_sync_cursors_updated_at BEFORE UPDATE ON hubspot_sync_cursors FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at();

CREATE TRIGGER hubspot_scheduled_sends_updated_at BEFORE UPDATE ON hubspot_scheduled_sends FOR EACH ROW EXECUTE FUNCTION hubspot_set_updated_at();

ALTER TABLE hubspot_connections ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_connections FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_connections_tenant_isolation ON hubspot_connections USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

ALTER TABLE hubspot_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_tokens FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_tokens_tenant_isolation ON hubspot_tokens USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

ALTER TABLE hubspot_oauth_states ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_oauth_states FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_oauth_states_tenant_isolation ON hubspot_oauth_states USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

ALTER TABLE hubspot_portal_details ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_portal_details FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_portal_details_tenant_isolation ON hubspot_portal_details USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

ALTER TABLE hubspot_sync_cursors ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_sync_cursors FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_sync_cursors_tenant_isolation ON hubspot_sync_cursors USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

ALTER TABLE hubspot_scheduled_sends ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_scheduled_sends FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_scheduled_sends_tenant_isolation ON hubspot_scheduled_sends USING (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on') WITH CHECK (tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.all_tenants', true) = 'on');

INSERT INTO hubspot_alembic_version (version_num) VALUES ('0001_initial') RETURNING hubspot_alembic_version.version_num;

-- Running upgrade 0001_initial -> 0002_leader_leases

CREATE TABLE hubspot_leases (
    name VARCHAR(200) NOT NULL, 
    holder VARCHAR(200) NOT NULL, 
    term BIGINT NOT NULL, 
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    PRIMARY KEY (name)
);

UPDATE hubspot_alembic_version SET version_num='0002_leader_leases' WHERE hubspot_alembic_version.version_num = '0001_initial';

-- Running upgrade 0002_leader_leases -> 0003_change_feed

CREATE TABLE hubspot_feed_events (
    id BIGSERIAL NOT NULL, 
    portal_id BIGINT NOT NULL, 
    event_id BIGINT NOT NULL, 
    source VARCHAR(16) NOT NULL, 
    subscription_type VARCHAR(128) NOT NULL, 
    object_type VARCHAR(32), 
    object_id BIGINT, 
    occurred_at BIGINT NOT NULL, 
    payload JSONB NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    attempts INTEGER DEFAULT '0' NOT NULL, 
    error VARCHAR(500), 
    received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    applied_at TIMESTAMP WITH TIME ZONE, 
    PRIMARY KEY (id), 
    CONSTRAINT uq_hubspot_feed_events_portal_event UNIQUE (portal_id, event_id), 
    CONSTRAINT ck_hubspot_feed_events_status CHECK (status in ('pending','applied','parked','skipped'))
);

CREATE INDEX ix_hubspot_feed_events_status_occurred ON hubspot_feed_events (status, occurred_at);

CREATE INDEX ix_hubspot_feed_events_portal_object ON hubspot_feed_events (portal_id, object_type, object_id);

CREATE TABLE hubspot_feed_deliveries (
    digest VARCHAR(64) NOT NULL, 
    received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (digest)
);

CREATE INDEX ix_hubspot_feed_deliveries_received_at ON hubspot_feed_deliveries (received_at);

CREATE TABLE hubspot_feed_health (
    portal_id BIGINT NOT NULL, 
    events_received BIGINT DEFAULT '0' NOT NULL, 
    events_unknown_portal BIGINT DEFAULT '0' NOT NULL, 
    last_event_at TIMESTAMP WITH TIME ZONE, 
    signature_failures BIGINT DEFAULT '0' NOT NULL, 
    last_signature_failure_at TIMESTAMP WITH TIME ZONE, 
    last_signature_failure VARCHAR(64), 
    journal_offset VARCHAR(128), 
    journal_polled_at TIMESTAMP WITH TIME ZONE, 
    PRIMARY KEY (portal_id)
);

UPDATE hubspot_alembic_version SET version_num='0003_change_feed' WHERE hubspot_alembic_version.version_num = '0002_leader_leases';

-- Running upgrade 0003_change_feed -> 0004_portal_mirror

CREATE INDEX ix_hubspot_connections_portal_tenant ON hubspot_connections (portal_id, tenant_id);

CREATE TABLE hubspot_mirror_records (
    portal_id BIGINT NOT NULL, 
    object_type VARCHAR(16) NOT NULL, 
    record_id BIGINT NOT NULL, 
    properties JSONB NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE, 
    updated_at TIMESTAMP WITH TIME ZONE, 
    archived BOOLEAN DEFAULT false NOT NULL, 
    archived_at TIMESTAMP WITH TIME ZONE, 
    merged_into BIGINT, 
    synced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, object_type, record_id)
);

CREATE INDEX ix_hubspot_mirror_records_live ON hubspot_mirror_records (portal_id, object_type, archived, record_id);

CREATE INDEX ix_hubspot_mirror_records_created ON hubspot_mirror_records (portal_id, object_type, created_at);

CREATE INDEX ix_hubspot_mirror_records_updated ON hubspot_mirror_records (portal_id, object_type, updated_at);

CREATE INDEX ix_hubspot_mirror_records_merged ON hubspot_mirror_records (portal_id, object_type, merged_into);

CREATE TABLE hubspot_mirror_associations (
    portal_id BIGINT NOT NULL, 
    from_type VARCHAR(16) NOT NULL, 
    from_id BIGINT NOT NULL, 
    to_type VARCHAR(16) NOT NULL, 
    to_id BIGINT NOT NULL, 
    type_id INTEGER NOT NULL, 
    synced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, from_type, from_id, to_type, to_id, type_id)
);

CREATE INDEX ix_hubspot_mirror_associations_to ON hubspot_mirror_associations (portal_id, to_type, to_id, from_type);

CREATE TABLE hubspot_mirror_pipelines (
    portal_id BIGINT NOT NULL, 
    object_type VARCHAR(16) NOT NULL, 
    pipeline_id VARCHAR(64) NOT NULL, 
    label TEXT, 
    display_order INTEGER DEFAULT '0' NOT NULL, 
    archived BOOLEAN DEFAULT false NOT NULL, 
    data JSONB NOT NULL, 
    synced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, object_type, pipeline_id)
);

CREATE TABLE hubspot_mirror_stages (
    portal_id BIGINT NOT NULL, 
    object_type VARCHAR(16) NOT NULL, 
    pipeline_id VARCHAR(64) NOT NULL, 
    stage_id VARCHAR(64) NOT NULL, 
    label TEXT, 
    display_order INTEGER DEFAULT '0' NOT NULL, 
    probability FLOAT, 
    is_closed BOOLEAN DEFAULT false NOT NULL, 
    archived BOOLEAN DEFAULT false NOT NULL, 
    data JSONB NOT NULL, 
    PRIMARY KEY (portal_id, object_type, pipeline_id, stage_id)
);

CREATE TABLE hubspot_mirror_lists (
    portal_id BIGINT NOT NULL, 
    list_id VARCHAR(64) NOT NULL, 
    name TEXT, 
    processing_type VARCHAR(16), 
    object_type_id VARCHAR(16), 
    size BIGINT, 
    data JSONB NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE, 
    synced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, list_id)
);

CREATE TABLE hubspot_mirror_list_members (
    portal_id BIGINT NOT NULL, 
    list_id VARCHAR(64) NOT NULL, 
    record_id BIGINT NOT NULL, 
    PRIMARY KEY (portal_id, list_id, record_id)
);

CREATE INDEX ix_hubspot_mirror_list_members_record ON hubspot_mirror_list_members (portal_id, record_id);

CREATE TABLE hubspot_mirror_campaigns (
    portal_id BIGINT NOT NULL, 
    campaign_id VARCHAR(64) NOT NULL, 
    properties JSONB NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE, 
    updated_at TIMESTAMP WITH TIME ZONE, 
    synced_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, campaign_id)
);

CREATE TABLE hubspot_mirror_sync_state (
    portal_id BIGINT NOT NULL, 
    object_type VARCHAR(16) NOT NULL, 
    status VARCHAR(16) DEFAULT 'idle' NOT NULL, 
    mode VARCHAR(16), 
    cursor JSONB NOT NULL, 
    synced_through TIMESTAMP WITH TIME ZONE, 
    run_started_at TIMESTAMP WITH TIME ZONE, 
    last_success_at TIMESTAMP WITH TIME ZONE, 
    reconciled_at TIMESTAMP WITH TIME ZONE, 
    processed BIGINT DEFAULT '0' NOT NULL, 
    expected BIGINT, 
    last_error TEXT, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (portal_id, object_type), 
    CONSTRAINT ck_hubspot_mirror_sync_state_status CHECK (status in ('idle','running','current','failed'))
);

CREATE INDEX ix_hubspot_mirror_contacts_lifecyclestage ON hubspot_mirror_records (portal_id, (properties ->> 'lifecyclestage')) WHERE object_type = 'contacts' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_contacts_email ON hubspot_mirror_records (portal_id, (properties ->> 'email')) WHERE object_type = 'contacts' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_companies_domain ON hubspot_mirror_records (portal_id, (properties ->> 'domain')) WHERE object_type = 'companies' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_deals_dealstage ON hubspot_mirror_records (portal_id, (properties ->> 'dealstage')) WHERE object_type = 'deals' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_deals_pipeline ON hubspot_mirror_records (portal_id, (properties ->> 'pipeline')) WHERE object_type = 'deals' AND NOT archived;

ALTER TABLE hubspot_mirror_records ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_records FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_records_portal_tenants ON hubspot_mirror_records USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_records.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_records.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_associations ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_associations FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_associations_portal_tenants ON hubspot_mirror_associations USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_associations.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_associations.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_pipelines ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_pipelines FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_pipelines_portal_tenants ON hubspot_mirror_pipelines USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_pipelines.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_pipelines.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_stages ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_stages FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_stages_portal_tenants ON hubspot_mirror_stages USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_stages.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_stages.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_lists ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_lists FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_lists_portal_tenants ON hubspot_mirror_lists USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_lists.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_lists.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_list_members ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_list_members FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_list_members_portal_tenants ON hubspot_mirror_list_members USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_list_members.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_list_members.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_campaigns ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_campaigns FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_campaigns_portal_tenants ON hubspot_mirror_campaigns USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_campaigns.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_campaigns.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

ALTER TABLE hubspot_mirror_sync_state ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_mirror_sync_state FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_mirror_sync_state_portal_tenants ON hubspot_mirror_sync_state USING (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_sync_state.portal_id AND c.tenant_id = current_setting('app.tenant_id', true))) WITH CHECK (current_setting('app.all_tenants', true) = 'on' OR EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_sync_state.portal_id AND c.tenant_id = current_setting('app.tenant_id', true)));

UPDATE hubspot_alembic_version SET version_num='0004_portal_mirror' WHERE hubspot_alembic_version.version_num = '0003_change_feed';

-- Running upgrade 0004_portal_mirror -> 0005_tenant_bound_row_security

CREATE UNLOGGED TABLE "public".hubspot_tenant_bindings (backend_pid integer PRIMARY KEY, xact_id xid8 NOT NULL, tenant_id text NOT NULL);

REVOKE ALL ON "public".hubspot_tenant_bindings FROM PUBLIC;

ALTER TABLE "public".hubspot_tenant_bindings ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION "public".hubspot_refuse_truncate() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            RAISE EXCEPTION 'tenant bindings cannot be truncated'
                USING ERRCODE = 'insufficient_privilege';
        END
        $$;

CREATE TRIGGER hubspot_tenant_bindings_no_truncate BEFORE TRUNCATE ON "public".hubspot_tenant_bindings FOR EACH STATEMENT EXECUTE FUNCTION "public".hubspot_refuse_truncate();

CREATE FUNCTION "public".hubspot_bind_tenant(tenant text) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            bound text;
        BEGIN
            IF tenant IS NULL OR tenant = '' THEN
                RAISE EXCEPTION 'a tenant is required' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO "public".hubspot_tenant_bindings AS b (backend_pid, xact_id, tenant_id)
            VALUES (pg_backend_pid(), pg_current_xact_id(), tenant)
            ON CONFLICT (backend_pid) DO UPDATE
                SET xact_id = EXCLUDED.xact_id, tenant_id = EXCLUDED.tenant_id
                WHERE b.xact_id <> EXCLUDED.xact_id OR b.tenant_id = EXCLUDED.tenant_id
            RETURNING b.tenant_id INTO bound;
            IF bound IS NULL THEN
                RAISE EXCEPTION 'this transaction already works for another tenant'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN bound;
        END
        $$;

CREATE FUNCTION "public".hubspot_bound_tenant() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT tenant_id FROM "public".hubspot_tenant_bindings
            WHERE backend_pid = pg_backend_pid() AND xact_id = pg_current_xact_id_if_assigned()
        $$;

DROP POLICY IF EXISTS hubspot_connections_tenant_isolation ON hubspot_connections;

CREATE POLICY hubspot_connections_bound_tenant ON hubspot_connections USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_tokens_tenant_isolation ON hubspot_tokens;

CREATE POLICY hubspot_tokens_bound_tenant ON hubspot_tokens USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_oauth_states_tenant_isolation ON hubspot_oauth_states;

CREATE POLICY hubspot_oauth_states_bound_tenant ON hubspot_oauth_states USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_portal_details_tenant_isolation ON hubspot_portal_details;

CREATE POLICY hubspot_portal_details_bound_tenant ON hubspot_portal_details USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_sync_cursors_tenant_isolation ON hubspot_sync_cursors;

CREATE POLICY hubspot_sync_cursors_bound_tenant ON hubspot_sync_cursors USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_scheduled_sends_tenant_isolation ON hubspot_scheduled_sends;

CREATE POLICY hubspot_scheduled_sends_bound_tenant ON hubspot_scheduled_sends USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

DROP POLICY IF EXISTS hubspot_mirror_records_portal_tenants ON hubspot_mirror_records;

CREATE POLICY hubspot_mirror_records_bound_tenant ON hubspot_mirror_records USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_records.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_records.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_associations_portal_tenants ON hubspot_mirror_associations;

CREATE POLICY hubspot_mirror_associations_bound_tenant ON hubspot_mirror_associations USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_associations.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_associations.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_pipelines_portal_tenants ON hubspot_mirror_pipelines;

CREATE POLICY hubspot_mirror_pipelines_bound_tenant ON hubspot_mirror_pipelines USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_pipelines.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_pipelines.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_stages_portal_tenants ON hubspot_mirror_stages;

CREATE POLICY hubspot_mirror_stages_bound_tenant ON hubspot_mirror_stages USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_stages.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_stages.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_lists_portal_tenants ON hubspot_mirror_lists;

CREATE POLICY hubspot_mirror_lists_bound_tenant ON hubspot_mirror_lists USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_lists.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_lists.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_list_members_portal_tenants ON hubspot_mirror_list_members;

CREATE POLICY hubspot_mirror_list_members_bound_tenant ON hubspot_mirror_list_members USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_list_members.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_list_members.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_campaigns_portal_tenants ON hubspot_mirror_campaigns;

CREATE POLICY hubspot_mirror_campaigns_bound_tenant ON hubspot_mirror_campaigns USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_campaigns.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_campaigns.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

DROP POLICY IF EXISTS hubspot_mirror_sync_state_portal_tenants ON hubspot_mirror_sync_state;

CREATE POLICY hubspot_mirror_sync_state_bound_tenant ON hubspot_mirror_sync_state USING (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_sync_state.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant()))) WITH CHECK (EXISTS (SELECT 1 FROM hubspot_connections c WHERE c.portal_id = hubspot_mirror_sync_state.portal_id AND c.tenant_id = (SELECT hubspot_bound_tenant())));

UPDATE hubspot_alembic_version SET version_num='0005_tenant_bound_row_security' WHERE hubspot_alembic_version.version_num = '0004_portal_mirror';

-- Running upgrade 0005_tenant_bound_row_security -> 0006_mirror_contact_createdate

CREATE INDEX ix_hubspot_mirror_contacts_createdate ON hubspot_mirror_records (portal_id, (properties ->> 'createdate')) WHERE object_type = 'contacts' AND NOT archived;

UPDATE hubspot_alembic_version SET version_num='0006_mirror_contact_createdate' WHERE hubspot_alembic_version.version_num = '0005_tenant_bound_row_security';

-- Running upgrade 0006_mirror_contact_createdate -> 0007_list_sends

CREATE TABLE hubspot_list_sends (
    id VARCHAR(36) NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    user_id VARCHAR(128) NOT NULL, 
    portal_id BIGINT NOT NULL, 
    connection_id VARCHAR(36) NOT NULL, 
    email_id BIGINT NOT NULL, 
    list_ids JSONB NOT NULL, 
    way VARCHAR(16) NOT NULL, 
    send_mode VARCHAR(16), 
    send_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    expanded BOOLEAN DEFAULT false NOT NULL, 
    claimed_by VARCHAR(128), 
    claimed_at TIMESTAMP WITH TIME ZONE, 
    error TEXT, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    CONSTRAINT ck_hubspot_list_sends_way CHECK (way in ('publish','fan_out')), 
    CONSTRAINT ck_hubspot_list_sends_status CHECK (status in ('pending','running','scheduled','sent','partial','failed','cancelled'))
);

CREATE INDEX ix_hubspot_list_sends_status_send_at ON hubspot_list_sends (status, send_at);

CREATE INDEX ix_hubspot_list_sends_tenant_user ON hubspot_list_sends (tenant_id, user_id);

CREATE TABLE hubspot_list_send_recipients (
    list_send_id VARCHAR(36) NOT NULL, 
    contact_id BIGINT NOT NULL, 
    tenant_id VARCHAR(128) NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    error JSONB, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (list_send_id, contact_id), 
    CONSTRAINT ck_hubspot_list_send_recipients_status CHECK (status in ('pending','sending','sent','failed','skipped','unknown','cancelled')), 
    FOREIGN KEY(list_send_id) REFERENCES hubspot_list_sends (id) ON DELETE CASCADE
);

CREATE INDEX ix_hubspot_list_send_recipients_status ON hubspot_list_send_recipients (list_send_id, status);

ALTER TABLE hubspot_list_sends ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_list_sends FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_list_sends_tenant_isolation ON hubspot_list_sends USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

ALTER TABLE hubspot_list_send_recipients ENABLE ROW LEVEL SECURITY;

ALTER TABLE hubspot_list_send_recipients FORCE ROW LEVEL SECURITY;

CREATE POLICY hubspot_list_send_recipients_tenant_isolation ON hubspot_list_send_recipients USING (tenant_id = (SELECT hubspot_bound_tenant())) WITH CHECK (tenant_id = (SELECT hubspot_bound_tenant()));

UPDATE hubspot_alembic_version SET version_num='0007_list_sends' WHERE hubspot_alembic_version.version_num = '0006_mirror_contact_createdate';

-- Running upgrade 0007_list_sends -> 0008_connection_environment

ALTER TABLE hubspot_connections ADD COLUMN environment VARCHAR(16) DEFAULT 'production' NOT NULL CONSTRAINT ck_hubspot_connections_environment CHECK (environment in ('production','qa'));

ALTER TABLE hubspot_oauth_states ADD COLUMN environment VARCHAR(16) DEFAULT 'production' NOT NULL CONSTRAINT ck_hubspot_oauth_states_environment CHECK (environment in ('production','qa'));

UPDATE hubspot_alembic_version SET version_num='0008_connection_environment' WHERE hubspot_alembic_version.version_num = '0007_list_sends';

-- Running upgrade 0008_connection_environment -> 0009_mirror_record_columns

ALTER TABLE hubspot_mirror_records ADD COLUMN lifecyclestage TEXT;

ALTER TABLE hubspot_mirror_records ADD COLUMN pipeline TEXT;

ALTER TABLE hubspot_mirror_records ADD COLUMN dealstage TEXT;

ALTER TABLE hubspot_mirror_records ADD COLUMN createdate VARCHAR(24);

ALTER TABLE hubspot_mirror_records ADD COLUMN closedate VARCHAR(24);

ALTER TABLE hubspot_mirror_records ADD COLUMN amount_scale INTEGER;

ALTER TABLE hubspot_mirror_records ADD COLUMN amount_hi BIGINT;

ALTER TABLE hubspot_mirror_records ADD COLUMN amount_lo BIGINT;

DROP INDEX IF EXISTS ix_hubspot_mirror_contacts_lifecyclestage;

DROP INDEX IF EXISTS ix_hubspot_mirror_deals_dealstage;

DROP INDEX IF EXISTS ix_hubspot_mirror_deals_pipeline;

DROP INDEX IF EXISTS ix_hubspot_mirror_contacts_createdate;

CREATE INDEX ix_hubspot_mirror_contacts_stage ON hubspot_mirror_records (portal_id, lifecyclestage) WHERE object_type = 'contacts' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_deals_figures ON hubspot_mirror_records (portal_id, pipeline, dealstage, amount_scale, closedate, amount_hi, amount_lo) WHERE object_type = 'deals' AND NOT archived;

CREATE INDEX ix_hubspot_mirror_contacts_created_day ON hubspot_mirror_records (portal_id, substr(createdate, 1, 10)) WHERE object_type = 'contacts' AND NOT archived;

UPDATE hubspot_alembic_version SET version_num='0009_mirror_record_columns' WHERE hubspot_alembic_version.version_num = '0008_connection_environment';

COMMIT;

