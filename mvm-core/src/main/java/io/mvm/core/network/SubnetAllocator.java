package io.mvm.core.network;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;
import java.util.Set;

/**
 * Carves a cluster CIDR into tenant /24s. Subnet number {@code i} (0-based) gets network id
 * {@code i + 1}, so a network id is never 0 (0 reads as "unset" in bridge names and VXLAN ids).
 * Pure: the caller says which network ids are taken, and makes the choice stick with a unique
 * constraint.
 */
public final class SubnetAllocator {
    public static final Ipv4Cidr DEFAULT_CLUSTER_CIDR = Ipv4Cidr.parse("10.240.0.0/12");
    private static final int TENANT_PREFIX = 24;

    private final Ipv4Cidr cluster;

    public SubnetAllocator(Ipv4Cidr cluster) {
        if (cluster.prefix() > TENANT_PREFIX) {
            throw MvmException.invalid("cluster CIDR " + cluster + " is smaller than one /24 tenant subnet");
        }
        if (cluster.prefix() < 8) {
            throw MvmException.invalid("cluster CIDR " + cluster + " is too large: use a prefix of /8 or longer");
        }
        this.cluster = cluster;
    }

    public Ipv4Cidr cluster() {
        return cluster;
    }

    /** How many tenant subnets fit. */
    public int capacity() {
        return 1 << (TENANT_PREFIX - cluster.prefix());
    }

    /** The lowest free network id, or RESOURCE_EXHAUSTED when every /24 is taken. */
    public int allocate(Set<Integer> usedNetIds) {
        for (int netId = 1; netId <= capacity(); netId++) {
            if (!usedNetIds.contains(netId)) {
                return netId;
            }
        }
        throw new MvmException(ErrorCategory.RESOURCE_EXHAUSTED,
                "no free tenant subnet: all " + capacity() + " /24 subnets of " + cluster + " are in use",
                Map.of("cluster_cidr", cluster.toString(), "capacity", capacity()), null);
    }

    public Ipv4Cidr subnetOf(int netId) {
        if (netId < 1 || netId > capacity()) {
            throw MvmException.invalid("network id " + netId + " outside 1.." + capacity() + " for " + cluster);
        }
        return new Ipv4Cidr(cluster.address((long) (netId - 1) << 8), TENANT_PREFIX);
    }
}
