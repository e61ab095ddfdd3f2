-- Issue 10: rolling a pool onto a template revision. One row per pool that has rolled (or been
-- told which revision to run): pinned_revision is the revision set with `pool set-template
-- T@REV` or a rollback (null: follow the template's current revision); target_revision what the
-- last step rolled towards, previous_revision what it rolled from (rollback returns there).
-- status: rolling | halted | done; reason says why a rollout halted.
CREATE TABLE pool_rollouts (
    tenant_id         TEXT    NOT NULL,
    pool_name         TEXT    NOT NULL,
    template          TEXT    NOT NULL,
    pinned_revision   TEXT,
    target_revision   TEXT,
    previous_revision TEXT,
    max_unavailable   INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    reason            TEXT,
    replaced          INTEGER NOT NULL,
    started_at        BIGINT,
    updated_at        BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, pool_name),
    CONSTRAINT pool_rollouts_pool_fk FOREIGN KEY (tenant_id, pool_name) REFERENCES pools (tenant_id, name)
        ON DELETE CASCADE
);
