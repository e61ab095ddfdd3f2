-- Issue 14 (several coordinators): one leader lease and the coordinators that share this database.
--
-- leader_lease: a single row per lease name. epoch grows by one at every change of holder and is
-- what the leader's writes are fenced by (they check it in their own transaction). renewed_at is
-- written by the holder at every renewal; a candidate takes over only after it has seen the row
-- unchanged for a whole lease by its own clock (so clocks of different hosts need not agree).
-- Times are epoch milliseconds of the writer's clock, shown by `mvm coordinator status`.
CREATE TABLE leader_lease (
    name        TEXT   PRIMARY KEY,
    holder      TEXT,
    epoch       BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT,
    renewed_at  BIGINT,
    expires_at  BIGINT
);
INSERT INTO leader_lease (name, epoch) VALUES ('coordinator', 0);

-- Every running coordinator registers itself and refreshes last_seen while it runs.
CREATE TABLE coordinators (
    id         TEXT   PRIMARY KEY,
    address    TEXT   NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
