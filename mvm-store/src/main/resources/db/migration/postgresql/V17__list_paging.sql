-- Issue 14 (lists that scale): a tenant's instances are paged in id order (keyset), optionally by state.
CREATE INDEX instances_tenant_page_idx ON instances (tenant_id, id);
