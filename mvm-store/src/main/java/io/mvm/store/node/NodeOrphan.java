package io.mvm.store.node;

import java.time.Instant;

/** Data a node set aside when it evicted a VM its desired list no longer named (agent-reported). */
public record NodeOrphan(String instanceId, String path, long bytes, String reason, Instant at) {}
