-- Issue 15: the underlay address a node's agent registers (where its VXLAN tunnels start and end).
-- NULL: the node joins no tenant network across hosts.
ALTER TABLE nodes ADD COLUMN underlay_address TEXT;
