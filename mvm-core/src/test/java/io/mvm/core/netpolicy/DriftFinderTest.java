package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DriftFinderTest {

    private final HostNetworkSpec spec = SampleSpecs.twoTenants();
    private final String owner = DeviceNames.ownerAlias("mvm");

    /** The host exactly as the spec wants it. */
    private List<ObservedLink> exactLinks() {
        List<ObservedLink> links = new ArrayList<>();
        links.add(new ObservedLink("eth0", "", Optional.empty(), true, Optional.empty(), Optional.empty(), List.of("192.0.2.5/24")));
        for (TenantNetwork t : spec.tenants()) {
            links.add(new ObservedLink(t.bridgeName(), "bridge", Optional.empty(), true, Optional.empty(),
                    Optional.of(owner), List.of(t.bridgeCidr())));
        }
        for (InstancePort p : spec.instances()) {
            links.add(new ObservedLink(p.portName(), "tun", Optional.of(spec.tenant(p.tenant()).orElseThrow().bridgeName()),
                    true, Optional.empty(), Optional.of(owner), List.of()));
        }
        return links;
    }

    private Map<NftFamily, NftTable> exactTables() {
        Map<NftFamily, NftTable> tables = new EnumMap<>(NftFamily.class);
        RulesetRenderer.render(spec).tables().forEach(t -> tables.put(t.family(), NftTable.parseListing(t.definition())));
        return tables;
    }

    private List<String> kinds(List<ObservedLink> links, Map<NftFamily, NftTable> tables) {
        return DriftFinder.find(spec, new ObservedHostNetwork(links, tables)).stream().map(NetworkDrift::kind).toList();
    }

    @Test
    void exactHostHasNoDrift() {
        assertThat(DriftFinder.find(spec, new ObservedHostNetwork(exactLinks(), exactTables()))).isEmpty();
    }

    @Test
    void reportsMissingBridgeDownPortAndWrongAddress() {
        List<ObservedLink> links = new ArrayList<>(exactLinks());
        links.removeIf(l -> l.name().equals("mvb9"));
        links.replaceAll(l -> l.name().equals("mvb7")
                ? new ObservedLink("mvb7", "bridge", Optional.empty(), true, Optional.empty(), Optional.of(owner),
                        List.of("10.240.7.1/24", "10.9.9.9/32"))
                : l.kind().equals("tun") && l.master().equals(Optional.of("mvb7"))
                        ? new ObservedLink(l.name(), "tun", l.master(), false, Optional.empty(), l.alias(), List.of())
                        : l.master().equals(Optional.of("mvb9"))
                                ? new ObservedLink(l.name(), "tun", Optional.empty(), true, Optional.empty(), l.alias(), List.of())
                                : l);
        List<NetworkDrift> drift = DriftFinder.find(spec, new ObservedHostNetwork(links, exactTables()));
        assertThat(drift).extracting(NetworkDrift::kind).contains("missing-bridge", "wrong-addresses", "device-down",
                "wrong-master");
        assertThat(drift).filteredOn(d -> d instanceof NetworkDrift.MissingBridge).singleElement()
                .extracting(NetworkDrift::describe).asString().contains("mvb9", "beta");
    }

    @Test
    void reportsStrayPortsAndOwnedLeftoversButNotForeignDevices() {
        List<ObservedLink> links = new ArrayList<>(exactLinks());
        links.add(new ObservedLink("mvtstray", "tun", Optional.of("mvb7"), true, Optional.empty(), Optional.empty(), List.of()));
        links.add(new ObservedLink("mvb3", "bridge", Optional.empty(), true, Optional.empty(), Optional.of(owner), List.of()));
        links.add(new ObservedLink("mvb4", "bridge", Optional.empty(), true, Optional.empty(),
                Optional.of(DeviceNames.ownerAlias("other")), List.of()));
        assertThat(kinds(links, exactTables())).containsExactlyInAnyOrder("stray-port", "extra-device");
    }

    @Test
    void reportsMissingTablesAndRuleDifferences() {
        Map<NftFamily, NftTable> tables = exactTables();
        tables.remove(NftFamily.BRIDGE);
        NftTable inet = tables.get(NftFamily.INET);
        List<NftChain> chains = new ArrayList<>();
        for (NftChain c : inet.chains()) {
            List<String> rules = new ArrayList<>(c.rules());
            if (c.name().equals("forward")) {
                rules.removeFirst();
                rules.add(rules.getLast());
            }
            if (c.name().equals("input")) {
                rules.add(rules.removeFirst());
            }
            chains.add(new NftChain(c.name(), c.hook(), rules));
        }
        chains.add(new NftChain("sneaky", Optional.empty(), List.of()));
        tables.put(NftFamily.INET, new NftTable(NftFamily.INET, "mvm", chains));
        List<NetworkDrift> drift = DriftFinder.find(spec, new ObservedHostNetwork(exactLinks(), tables));
        assertThat(drift).extracting(NetworkDrift::kind).containsExactlyInAnyOrder(
                "table-missing", "rule-missing", "rule-extra", "rules-out-of-order", "chain-differs");
        assertThat(drift).filteredOn(d -> d instanceof NetworkDrift.RuleMissing).singleElement()
                .extracting(NetworkDrift::describe).asString().contains("tenant acme: within tenant");
    }
}
