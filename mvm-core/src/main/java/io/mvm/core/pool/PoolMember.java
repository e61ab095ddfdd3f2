package io.mvm.core.pool;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Instant;

/** What the assignment needs to know about one live (not destroyed) instance of a pool. */
public record PoolMember(InstanceId id, DesiredState desired, InstanceState observed, Instant createdAt) {

    /**
     * The state this instance is closest to right now: what an agent reported if that is a
     * stable state, "nothing yet" for a never-started instance, otherwise where it is heading.
     */
    Standing standing() {
        return switch (observed) {
            case RUNNING -> Standing.RUNNING;
            case WARM -> Standing.WARM;
            case SLEEPING -> Standing.SLEEPING;
            case STOPPED, FAILED -> Standing.STOPPED;
            case PENDING -> Standing.PENDING;
            default -> switch (desired) {
                case RUNNING -> Standing.RUNNING;
                case WARM -> Standing.WARM;
                case SLEEPING -> Standing.SLEEPING;
                case STOPPED, DESTROYED -> Standing.STOPPED;
            };
        };
    }

    enum Standing { PENDING, STOPPED, SLEEPING, WARM, RUNNING }
}
