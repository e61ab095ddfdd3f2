package io.mvm.core.network;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;
import java.util.Set;

/**
 * Host addresses inside one tenant /24: .1 is the bridge (gateway) on every host, .255 is
 * broadcast, instances get .2 to .254.
 */
public record TenantSubnet(Ipv4Cidr cidr) {
    public static final int FIRST_HOST = 2;
    public static final int LAST_HOST = 254;

    public TenantSubnet {
        if (cidr.prefix() != 24) {
            throw MvmException.invalid("tenant subnet must be a /24, got " + cidr);
        }
    }

    public int gateway() {
        return cidr.address(1);
    }

    public static int capacity() {
        return LAST_HOST - FIRST_HOST + 1;
    }

    /** The lowest free instance address, or RESOURCE_EXHAUSTED when .2-.254 are all taken. */
    public int allocateHost(Set<Integer> usedAddresses) {
        for (int host = FIRST_HOST; host <= LAST_HOST; host++) {
            int address = cidr.address(host);
            if (!usedAddresses.contains(address)) {
                return address;
            }
        }
        throw new MvmException(ErrorCategory.RESOURCE_EXHAUSTED,
                "no free address in tenant subnet " + cidr + ": all " + capacity() + " instance addresses are in use",
                Map.of("subnet", cidr.toString(), "capacity", capacity()), null);
    }
}
