-- Round 3 (hardening): the data directories a node set aside when it evicted a VM that moved away
-- (data disk + snapshot kept, never deleted by the agent), as the node last reported them (JSON).
ALTER TABLE nodes ADD COLUMN orphans TEXT NOT NULL DEFAULT '[]';
