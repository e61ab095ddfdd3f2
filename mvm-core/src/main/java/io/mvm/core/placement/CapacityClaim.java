package io.mvm.core.placement;

import java.util.Optional;

/**
 * What a node may be given, from what it claims and what an admin approved. A node's first
 * registration is approved as claimed (its token was minted by an admin for that node); after
 * that, a claim above the approved capacity in any dimension waits for an admin's approval and
 * meanwhile counts only up to the approved capacity, so a stolen node token cannot attract more
 * of other tenants' workloads by advertising a bigger host. A smaller claim applies at once.
 *
 * @param effective what placement may use
 * @param pending   a claim above the approved capacity, waiting for approval
 */
public record CapacityClaim(Capacity effective, Optional<Capacity> pending) {

    public static CapacityClaim judge(Capacity claimed, Optional<Capacity> approved) {
        if (approved.isEmpty()) {
            return new CapacityClaim(claimed, Optional.empty());
        }
        Capacity a = approved.get();
        Capacity effective = new Capacity(Math.min(claimed.vcpus(), a.vcpus()), Math.min(claimed.memoryMib(), a.memoryMib()),
                Math.min(claimed.diskMib(), a.diskMib()));
        return new CapacityClaim(effective, claimed.fitsIn(a) ? Optional.empty() : Optional.of(claimed));
    }
}
