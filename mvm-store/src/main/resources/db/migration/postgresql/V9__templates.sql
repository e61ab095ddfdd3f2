-- Issue 10: templates live in the coordinator. One row per variant, named as pools name it
-- (<template_id>-<role> by default); config is the TOML as it was created (validated by
-- mvm-core's TemplateConfigReader), config_dir where its relative paths resolve on a build host.
-- current_revision is what new instances boot; previous_revision is what `pool rollback` and a
-- failed rollout return to.
CREATE TABLE templates (
    name              TEXT    PRIMARY KEY,
    template_id       TEXT    NOT NULL,
    role              TEXT    NOT NULL,
    profile           TEXT    NOT NULL,
    vcpus             INTEGER NOT NULL,
    mem_mib           BIGINT  NOT NULL,
    data_disk_mib     BIGINT  NOT NULL,
    source_kind       TEXT    NOT NULL,
    config            TEXT    NOT NULL,
    config_dir        TEXT,
    current_revision  TEXT,
    previous_revision TEXT,
    version           BIGINT  NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);

-- A revision as its builder recorded it (revision.json, schema 2), registered after every one of
-- its artifacts was uploaded and verified by digest.
CREATE TABLE template_revisions (
    template      TEXT   NOT NULL REFERENCES templates (name) ON DELETE CASCADE,
    revision_hash TEXT   NOT NULL,
    record        TEXT   NOT NULL,
    built_at      BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    registered_by TEXT   NOT NULL,
    PRIMARY KEY (template, revision_hash)
);

-- A revision's files, content-addressed: the bytes live once per sha256 in the coordinator's
-- artifact store (<data>/coordinator/artifacts/sha256/<hex>).
CREATE TABLE template_artifacts (
    template      TEXT   NOT NULL,
    revision_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    path          TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT   NOT NULL,
    PRIMARY KEY (template, revision_hash, role),
    CONSTRAINT template_artifacts_revision_fk FOREIGN KEY (template, revision_hash)
        REFERENCES template_revisions (template, revision_hash) ON DELETE CASCADE
);
CREATE INDEX template_artifacts_sha256_idx ON template_artifacts (sha256);

-- Which revision an instance is to boot (assigned by the coordinator when it first reaches a node's
-- desired state, changed only by replacing the instance in a rollout) and which one its node
-- reports it booted. Kept apart from the instance row so neither touches its intent version.
CREATE TABLE instance_templates (
    instance_id       TEXT   PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    template          TEXT   NOT NULL,
    assigned_revision TEXT,
    booted_revision   TEXT,
    reported_at       BIGINT
);
