-- Scale to zero (issue 13): the ports a pool's instances expose and its idle policy (intent, kept
-- beside the pool so pool rows stay as they are), and the routes nodes report serving (observed).
CREATE TABLE pool_exposure (
    tenant_id           TEXT    NOT NULL,
    pool_name           TEXT    NOT NULL,
    ports               TEXT    NOT NULL,
    idle_warm_after_ms  BIGINT,
    idle_sleep_after_ms BIGINT,
    idle_min_runtime_ms BIGINT,
    idle_cpu_threshold  DOUBLE PRECISION,
    CONSTRAINT pool_exposure_pkey PRIMARY KEY (tenant_id, pool_name),
    CONSTRAINT pool_exposure_pool_fk FOREIGN KEY (tenant_id, pool_name) REFERENCES pools (tenant_id, name) ON DELETE CASCADE
);

CREATE TABLE instance_routes (
    instance_id TEXT    NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    guest_port  INTEGER NOT NULL,
    protocol    TEXT    NOT NULL,
    host_port   INTEGER,
    error       TEXT,
    CONSTRAINT instance_routes_pkey PRIMARY KEY (instance_id, guest_port)
);
