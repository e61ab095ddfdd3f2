package io.mvm.store.leader;

import java.time.Instant;

/** A coordinator that registered itself with the shared database. */
public record CoordinatorRecord(String id, String address, Instant startedAt, Instant lastSeen) {}
