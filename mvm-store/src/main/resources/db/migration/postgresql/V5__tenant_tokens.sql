-- Round 3 (hardening): tokens scoped to a tenant with a role, and metrics-only tokens.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_kind_check;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_check;
ALTER TABLE api_tokens ADD COLUMN tenant_id TEXT;
ALTER TABLE api_tokens ADD COLUMN role TEXT CHECK (role IS NULL OR role IN ('tenant-admin', 'tenant-read'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_kind_check CHECK (kind IN ('admin', 'node', 'tenant', 'metrics'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_node_check CHECK ((kind = 'node') = (node_id IS NOT NULL));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_tenant_check
    CHECK ((kind = 'tenant') = (tenant_id IS NOT NULL AND role IS NOT NULL));
