-- Coordinator intent. Times are epoch milliseconds (the same column type on SQLite and PostgreSQL).

CREATE TABLE cluster_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id             TEXT    PRIMARY KEY,
    net_id         INTEGER NOT NULL CONSTRAINT tenants_net_id_key UNIQUE,
    subnet         TEXT    NOT NULL CONSTRAINT tenants_subnet_key UNIQUE,
    max_vcpus      INTEGER NOT NULL,
    max_memory_mib BIGINT  NOT NULL,
    max_instances  INTEGER NOT NULL,
    version        BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE pools (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    profile       TEXT    NOT NULL,
    flake         TEXT    NOT NULL,
    template      TEXT,
    vcpus         INTEGER NOT NULL,
    memory_mib    BIGINT  NOT NULL,
    data_disk_mib BIGINT  NOT NULL,
    want_running  INTEGER NOT NULL,
    want_warm     INTEGER NOT NULL,
    want_sleeping INTEGER NOT NULL,
    want_stopped  INTEGER NOT NULL,
    revision      BIGINT  NOT NULL,
    version       BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    CONSTRAINT pools_pkey PRIMARY KEY (tenant_id, name)
);

CREATE TABLE instances (
    id            TEXT   PRIMARY KEY,
    tenant_id     TEXT   NOT NULL,
    pool_name     TEXT   NOT NULL,
    desired_state TEXT   NOT NULL,
    state         TEXT   NOT NULL,
    node_id       TEXT,
    ip            TEXT   NOT NULL,
    revision      BIGINT NOT NULL,
    last_error    TEXT,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT instances_pool_fk FOREIGN KEY (tenant_id, pool_name) REFERENCES pools (tenant_id, name) ON DELETE CASCADE,
    CONSTRAINT instances_ip_key UNIQUE (tenant_id, ip)
);
CREATE INDEX instances_pool_idx ON instances (tenant_id, pool_name);

CREATE TABLE nodes (
    id             TEXT    PRIMARY KEY,
    vcpus          INTEGER NOT NULL,
    memory_mib     BIGINT  NOT NULL,
    disk_mib       BIGINT  NOT NULL,
    labels         TEXT    NOT NULL DEFAULT '{}',
    accelerator    TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    last_heartbeat BIGINT,
    version        BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL
);

-- Bearer tokens, stored as SHA-256 hashes only. kind 'node' rows are scoped to node_id.
CREATE TABLE api_tokens (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('admin', 'node')),
    node_id    TEXT,
    token_hash TEXT   NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((kind = 'node') = (node_id IS NOT NULL))
);

-- No foreign key to tenants: the trail outlives the tenant it speaks of.
CREATE TABLE audit_log (
    seq            BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT,
    at             BIGINT NOT NULL,
    actor          TEXT   NOT NULL,
    action         TEXT   NOT NULL,
    resource       TEXT   NOT NULL,
    before_version BIGINT,
    after_version  BIGINT,
    outcome        TEXT   NOT NULL
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, seq);
