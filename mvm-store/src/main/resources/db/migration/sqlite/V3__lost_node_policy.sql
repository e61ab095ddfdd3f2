-- Round 3 (hardening): what happens to a pool's instances on a node that stays lost.
-- on_node_lost: 'auto' (wait when the instance has a data disk or a snapshot, else recreate),
-- 'wait' or 'recreate'. evacuate_requested_at: an operator asked to recreate the instance on
-- another node without its data (cleared once it has moved).
ALTER TABLE pools ADD COLUMN on_node_lost TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE instances ADD COLUMN evacuate_requested_at BIGINT;
