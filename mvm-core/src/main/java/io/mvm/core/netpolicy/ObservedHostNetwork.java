package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the host actually has: its links, mvm's nftables tables (absent when not found) and the
 * VXLAN devices among the links with their forwarding entries.
 */
public record ObservedHostNetwork(List<ObservedLink> links, Map<NftFamily, NftTable> tables,
                                  Map<String, ObservedVxlan> vxlans) {

    public ObservedHostNetwork {
        links = List.copyOf(links);
        tables = Map.copyOf(tables);
        vxlans = Map.copyOf(vxlans);
    }

    public ObservedHostNetwork(List<ObservedLink> links, Map<NftFamily, NftTable> tables) {
        this(links, tables, Map.of());
    }

    public Optional<ObservedVxlan> vxlan(String name) {
        return Optional.ofNullable(vxlans.get(name));
    }

    public Optional<ObservedLink> link(String name) {
        return links.stream().filter(l -> l.name().equals(name)).findFirst();
    }

    public Optional<NftTable> table(NftFamily family) {
        return Optional.ofNullable(tables.get(family));
    }
}
