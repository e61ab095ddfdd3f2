package io.mvm.store.leader;

import java.time.Instant;
import java.util.Optional;

/**
 * One leader lease row as stored: who holds it (none after a resignation or before the first
 * leader), its epoch (one more at every change of holder) and the holder's own times.
 */
public record Lease(String name, Optional<String> holder, long epoch, Optional<Instant> acquiredAt,
                    Optional<Instant> renewedAt, Optional<Instant> expiresAt) {

    /** What a candidate compares between two reads: the row moved iff this changed. */
    public String fingerprint() {
        return holder.orElse("-") + "/" + epoch + "/" + renewedAt.map(Instant::toEpochMilli).orElse(-1L);
    }
}
