-- Round 3 (hardening): tokens scoped to a tenant with a role, and metrics-only tokens.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE api_tokens_v5 (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('admin', 'node', 'tenant', 'metrics')),
    node_id    TEXT,
    tenant_id  TEXT,
    role       TEXT   CHECK (role IS NULL OR role IN ('tenant-admin', 'tenant-read')),
    token_hash TEXT   NOT NULL CONSTRAINT api_tokens_v5_hash_key UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((kind = 'node') = (node_id IS NOT NULL)),
    CHECK ((kind = 'tenant') = (tenant_id IS NOT NULL AND role IS NOT NULL))
);
INSERT INTO api_tokens_v5 (id, name, kind, node_id, token_hash, created_at, revoked_at)
    SELECT id, name, kind, node_id, token_hash, created_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v5 RENAME TO api_tokens;
