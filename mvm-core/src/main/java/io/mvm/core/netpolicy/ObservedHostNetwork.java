package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What the host actually has: its links and mvm's nftables tables (absent when not found). */
public record ObservedHostNetwork(List<ObservedLink> links, Map<NftFamily, NftTable> tables) {

    public ObservedHostNetwork {
        links = List.copyOf(links);
        tables = Map.copyOf(tables);
    }

    public Optional<ObservedLink> link(String name) {
        return links.stream().filter(l -> l.name().equals(name)).findFirst();
    }

    public Optional<NftTable> table(NftFamily family) {
        return Optional.ofNullable(tables.get(family));
    }
}
