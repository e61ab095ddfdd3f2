-- Relay tokens are no longer stored: the coordinator derives each node's relay token from its
-- cluster CA key and hands it over at registration (docs/security.md, "Control channel"). Raw
-- tokens agents registered before are removed; agents re-register at their next start.
UPDATE nodes SET agent_token = NULL;
