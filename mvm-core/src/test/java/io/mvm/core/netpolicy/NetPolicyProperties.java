package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Properties over arbitrary valid host network states. */
class NetPolicyProperties {

    record Shape(int tenants, List<Integer> instancesPerTenant, List<Boolean> egress, List<Boolean> gateways, int seed) {}

    @Provide
    Arbitrary<Shape> shapes() {
        return Arbitraries.integers().between(0, 6).flatMap(n -> Combinators.combine(
                Arbitraries.integers().between(0, 5).list().ofSize(n),
                Arbitraries.of(true, false).list().ofSize(n),
                Arbitraries.of(true, false).list().ofSize(n),
                Arbitraries.integers().between(0, 1_000_000))
                .as((counts, egress, gateways, seed) -> new Shape(n, counts, egress, gateways, seed)));
    }

    private static HostNetworkSpec build(Shape s) {
        List<TenantNetwork> tenants = new ArrayList<>();
        List<InstancePort> ports = new ArrayList<>();
        for (int t = 0; t < s.tenants(); t++) {
            TenantId tenant = TenantId.of("t" + s.seed() + "-" + t);
            TenantNetwork net = new TenantNetwork(tenant, s.seed() + t, Ipv4Subnet.parse("10.240." + t + ".0/24"),
                    s.egress().get(t));
            tenants.add(net);
            for (int i = 0; i < s.instancesPerTenant().get(t); i++) {
                Role role = i == 0 && s.gateways().get(t) ? Role.GATEWAY : Role.WORKER;
                ports.add(InstancePort.tap(InstanceId.of("i" + s.seed() + "-" + t + "-" + i), tenant,
                        net.subnet().firstHost().plus(1 + i), role));
            }
        }
        return new HostNetworkSpec("mvm", Optional.of("eth0"), tenants, ports, List.of());
    }

    @Property(tries = 200)
    void renderedTablesReadBackAsTheyWereWrittenAndShowNoDrift(@ForAll("shapes") Shape shape) {
        HostNetworkSpec spec = build(shape);
        NftRuleset ruleset = RulesetRenderer.render(spec);
        Map<NftFamily, NftTable> live = new EnumMap<>(NftFamily.class);
        for (NftTable table : ruleset.tables()) {
            NftTable back = NftTable.parseListing(table.definition());
            assertThat(back).isEqualTo(table);
            live.put(table.family(), back);
        }
        List<ObservedLink> links = new ArrayList<>();
        String owner = DeviceNames.ownerAlias("mvm");
        spec.tenants().forEach(t -> links.add(new ObservedLink(t.bridgeName(), "bridge", Optional.empty(), true,
                Optional.empty(), Optional.of(owner), List.of(t.bridgeCidr()))));
        spec.instances().forEach(p -> links.add(new ObservedLink(p.portName(), "tun",
                Optional.of(spec.tenant(p.tenant()).orElseThrow().bridgeName()), true, Optional.empty(), Optional.of(owner),
                List.of())));
        assertThat(DriftFinder.find(spec, new ObservedHostNetwork(links, live))).isEmpty();
    }

    @Property(tries = 200)
    void everyRuleHasAUniqueCommentAndEveryDeviceNameFits(@ForAll("shapes") Shape shape) {
        HostNetworkSpec spec = build(shape);
        for (NftTable table : RulesetRenderer.render(spec).tables()) {
            for (NftChain chain : table.chains()) {
                List<String> labels = chain.rules().stream().map(NftChain::label).toList();
                assertThat(labels).doesNotHaveDuplicates().allMatch(l -> !l.isEmpty() && l.length() <= 128);
                assertThat(chain.rules()).allMatch(r -> r.endsWith("\""));
            }
        }
        spec.tenants().forEach(t -> assertThat(t.bridgeName()).hasSizeLessThanOrEqualTo(DeviceNames.MAX_LENGTH));
        spec.instances().forEach(p -> assertThat(p.portName()).hasSizeLessThanOrEqualTo(DeviceNames.MAX_LENGTH));
        long egress = spec.tenants().stream().filter(TenantNetwork::egress).count();
        assertThat(RulesetRenderer.render(spec).table(NftFamily.INET).orElseThrow().chain("postrouting").orElseThrow()
                .rules()).hasSize((int) egress);
    }
}
