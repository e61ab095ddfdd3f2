-- Round 3 (hardening): a node's capacity as an admin approved it, and a bigger claim waiting for
-- approval. vcpus/memory_mib/disk_mib stay what placement uses (the claim, capped by the approval).
-- Nodes registered before this migration are approved at their current capacity.
ALTER TABLE nodes ADD COLUMN approved_vcpus INTEGER;
ALTER TABLE nodes ADD COLUMN approved_memory_mib BIGINT;
ALTER TABLE nodes ADD COLUMN approved_disk_mib BIGINT;
ALTER TABLE nodes ADD COLUMN pending_vcpus INTEGER;
ALTER TABLE nodes ADD COLUMN pending_memory_mib BIGINT;
ALTER TABLE nodes ADD COLUMN pending_disk_mib BIGINT;
UPDATE nodes SET approved_vcpus = vcpus, approved_memory_mib = memory_mib, approved_disk_mib = disk_mib;
