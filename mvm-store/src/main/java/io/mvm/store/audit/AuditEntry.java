package io.mvm.store.audit;

import java.time.Instant;
import java.util.Optional;

/**
 * One line of a tenant's audit trail: who did what to which resource, and the resource's version
 * before and after (empty when it did not exist before or does not exist after).
 */
public record AuditEntry(long seq, Optional<String> tenant, Instant at, String actor, String action, String resource,
                         Optional<Long> beforeVersion, Optional<Long> afterVersion, String outcome) {}
