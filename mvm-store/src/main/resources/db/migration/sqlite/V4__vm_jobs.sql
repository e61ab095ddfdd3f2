-- Round 3: /vms jobs. A job is one VM for one tenant, run through a pool of its own
-- (pool_name, "vm.<job_id>", running 1) so quotas, placement, reconcile, exec and logs apply as
-- to any pool. spec is the job's spec as JSON without secrets (those live in the pool's
-- write-only secrets column); spec_hash decides which warm VMs can serve it. source is 'api' or
-- 'file': a desired-VMs file only ever adds, changes or removes its own jobs.
CREATE TABLE vm_jobs (
    job_id     TEXT   PRIMARY KEY,
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    pool_name  TEXT   NOT NULL,
    spec       TEXT   NOT NULL,
    spec_hash  TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX vm_jobs_source_idx ON vm_jobs (source);
