package io.mvm.core.scale;

import java.time.Instant;
import java.util.Objects;

/**
 * What the idle decision looks at for one instance.
 *
 * @param activeSince     when it last became running (boot, wake, or the agent first seeing it)
 * @param lastActivity    the last connection opened or closed, or byte carried, on its routes, or
 *                        the last tick its own network link carried more than noise
 * @param openConnections connections open through its routes now (held ones included)
 * @param bytes           bytes carried through its routes since it became running (for the reason text)
 * @param cpu             guest CPU over the last sample, as a share of one vCPU (0 when unknown)
 * @param backgroundWork  work the guest or the agent reports as running (jobs, open execs)
 */
public record IdleInputs(IdleState state, Instant activeSince, Instant lastActivity, int openConnections, long bytes,
                         double cpu, int backgroundWork) {
    public IdleInputs {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(activeSince, "activeSince");
        Objects.requireNonNull(lastActivity, "lastActivity");
    }
}
