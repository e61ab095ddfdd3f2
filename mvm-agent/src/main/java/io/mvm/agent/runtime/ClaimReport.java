package io.mvm.agent.runtime;

import java.util.Map;

/**
 * What a claim of a warm VM did on this node.
 *
 * @param alreadyClaimed the VM was this instance already (a repeated claim: nothing was done)
 * @param phaseMillis    where the time went, in order (network, drives, resume, identity, ...)
 * @param generation     the guest's generation counter after the claim (0 when nothing was done)
 */
public record ClaimReport(boolean alreadyClaimed, Map<String, Long> phaseMillis, long generation) {
    public ClaimReport {
        phaseMillis = Map.copyOf(phaseMillis);
    }
}
