package io.mvm.core.netpolicy;

/** The nftables families mvm keeps a table in. */
public enum NftFamily {
    /** Routed and host-bound traffic: forward, input and NAT hooks for IPv4 and IPv6. */
    INET("inet"),
    /** Frames entering a bridge from a port, where per-port anti-spoofing sees MAC and ARP. */
    BRIDGE("bridge");

    private final String keyword;

    NftFamily(String keyword) {
        this.keyword = keyword;
    }

    public String keyword() {
        return keyword;
    }
}
