package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;
import java.util.Objects;

/**
 * How this host joins its tenants' networks across hosts: its underlay address (where VXLAN
 * packets leave from and arrive at). Every tenant with a remote instance gets a VXLAN device
 * ({@link #device(TenantNetwork)}) on its bridge, with VNI {@link #vni(TenantNetwork)} and UDP
 * destination port {@link #DSTPORT}; forwarding is static (FDB and neighbour entries from the
 * coordinator's placement), never learnt from the wire and never flooded.
 */
public record Overlay(Ipv4Address underlay) {
    /** The IANA VXLAN port; fixed so every host of a fleet agrees without configuration. */
    public static final int DSTPORT = 4789;
    /** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14): what the underlay must carry beyond 1500. */
    public static final int OVERHEAD = 50;
    /** The VXLAN device (and the tenant bridge, and every guest) keep the standard MTU. */
    public static final int MTU = 1500;
    /** The smallest underlay MTU that carries a full 1500-byte guest packet without outer fragmentation. */
    public static final int UNDERLAY_MTU = MTU + OVERHEAD;
    public static final int MAX_VNI = (1 << 24) - 1;
    public static final String DEVICE_PREFIX = "mvx";

    public Overlay {
        Objects.requireNonNull(underlay, "underlay");
    }

    /**
     * The VNI of a tenant's network: its cluster-wide net id itself, so every host derives the same
     * one without asking anybody. VXLAN has 24 bits; larger net ids cannot join an overlay.
     */
    public static int vni(TenantNetwork tenant) {
        if (tenant.netId() < 1 || tenant.netId() > MAX_VNI) {
            throw MvmException.invalid("tenant " + tenant.tenant() + ": network id " + tenant.netId()
                    + " cannot be a VXLAN VNI (1-" + MAX_VNI + ")");
        }
        return tenant.netId();
    }

    /** {@code mvx<netId>}, at most 11 characters for any VNI. */
    public static String device(TenantNetwork tenant) {
        return DEVICE_PREFIX + tenant.netId();
    }
}
