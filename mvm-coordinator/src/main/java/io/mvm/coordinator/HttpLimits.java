package io.mvm.coordinator;

import io.mvm.model.MvmException;

/**
 * Limits that keep one caller from starving the others (and floods from starving heartbeats).
 *
 * @param tokenRatePerSec   requests per second per token (admin, tenant, metrics; node tokens have
 *                          their own in-flight budget instead)
 * @param tokenBurst        how many a token may send at once before the rate applies
 * @param refusedRatePerSec requests per second per client address without a valid token
 * @param refusedBurst      their burst
 * @param nodeInFlight      node (agent protocol) requests in flight at once
 * @param userInFlight      all other requests in flight at once
 * @param execPerInstance   exec calls running at once into one instance
 * @param execTotal         exec calls running at once through this coordinator
 */
public record HttpLimits(double tokenRatePerSec, int tokenBurst, double refusedRatePerSec, int refusedBurst,
                         int nodeInFlight, int userInFlight, int execPerInstance, int execTotal) {
    public static final HttpLimits DEFAULT = new HttpLimits(200, 400, 10, 50, 256, 128, 4, 64);

    public HttpLimits {
        if (tokenRatePerSec <= 0 || tokenBurst < 1 || refusedRatePerSec <= 0 || refusedBurst < 1 || nodeInFlight < 1
                || userInFlight < 1 || execPerInstance < 1 || execTotal < 1) {
            throw MvmException.invalid("HTTP limits must be positive");
        }
    }
}
