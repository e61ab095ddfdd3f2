package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A VXLAN device as read back from the host ({@code ip -d link}, {@code bridge fdb},
 * {@code ip neigh}): its VNI, local address, UDP port, whether it learns from the wire and answers
 * ARP itself (proxy), its MTU, and its static forwarding entries; {@code learnt} are the MACs the
 * bridge (not the device) learnt behind this port, which go stale when an instance moves here.
 */
public record ObservedVxlan(String name, int vni, Optional<String> local, int dstport, boolean learning, boolean proxy,
                            int mtu, List<Fdb> fdb, List<Neighbour> neighbours, List<String> learnt) {

    /** A unicast FDB entry of the device itself ({@code self}): frames to {@code mac} go to host {@code dst}. */
    public record Fdb(String mac, String dst) {}

    /** A neighbour entry: ARP for {@code address} is answered with {@code mac}. */
    public record Neighbour(String address, String mac) {}

    public ObservedVxlan {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(local, "local");
        fdb = List.copyOf(fdb);
        neighbours = List.copyOf(neighbours);
        learnt = List.copyOf(learnt);
    }
}
