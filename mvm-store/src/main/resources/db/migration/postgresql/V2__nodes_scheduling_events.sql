-- Round 2 (agents): what a node tells us, what we tell it, and what happened to its instances.

-- agent_url/agent_token: where the agent's exec/logs relay listens and the bearer token it
-- expects. The token is kept as-is (the coordinator must present it), never logged or returned.
-- generation/desired_hash: the node's desired-state generation and a hash of the list it
-- describes; the generation only moves forward, and only when the list really changed.
ALTER TABLE nodes ADD COLUMN agent_url TEXT;
ALTER TABLE nodes ADD COLUMN agent_token TEXT;
ALTER TABLE nodes ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN desired_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN observed_generation BIGINT NOT NULL DEFAULT -1;

-- Observed facts from the instance's agent, and why placement could not find it a node.
ALTER TABLE instances ADD COLUMN pid BIGINT;
ALTER TABLE instances ADD COLUMN accelerator TEXT;
ALTER TABLE instances ADD COLUMN pending_reason TEXT;
ALTER TABLE instances ADD COLUMN observed_at BIGINT;
CREATE INDEX instances_node_idx ON instances (node_id);

-- What a pool's instances run. JSON text: cmd is an array, the others string maps.
-- secrets are write-only in the API (never returned, logged or audited by value).
ALTER TABLE pools ADD COLUMN cmd TEXT NOT NULL DEFAULT '[]';
ALTER TABLE pools ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
ALTER TABLE pools ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
ALTER TABLE pools ADD COLUMN config_files TEXT NOT NULL DEFAULT '{}';

-- Agents resend events until a report is accepted, so an event is identified by its content.
CREATE TABLE instance_events (
    id BIGSERIAL PRIMARY KEY,
    instance_id TEXT   NOT NULL,
    tenant_id   TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    message     TEXT   NOT NULL,
    node_id     TEXT   NOT NULL,
    CONSTRAINT instance_events_dedup_key UNIQUE (instance_id, at, type, message)
);
CREATE INDEX instance_events_instance_idx ON instance_events (instance_id, at);
