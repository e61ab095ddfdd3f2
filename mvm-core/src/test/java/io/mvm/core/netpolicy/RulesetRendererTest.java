package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RulesetRendererTest {

    private final HostNetworkSpec spec = SampleSpecs.twoTenants();
    private final NftRuleset ruleset = RulesetRenderer.render(spec);

    private List<String> rules(NftFamily family, String chain) {
        return ruleset.table(family).orElseThrow().chain(chain).orElseThrow().rules();
    }

    @Test
    void aStandbyPortReachesNothingAndIsReachedByNothing() {
        String script = RulesetRenderer.render(SampleSpecs.withStandby()).replaceScript();
        String tap = DeviceNames.tap(io.mvm.model.InstanceId.of("w-1"));
        assertThat(script).contains("iifname \"" + tap + "\" counter drop comment \"standby instance w-1: reaches nothing\"")
                .contains("oifname \"" + tap + "\" counter drop comment \"standby instance w-1: reachable by nothing\"");
        // Not a bridge port: no anti-spoofing chain, no tenant membership.
        assertThat(script).doesNotContain("port_" + tap);
    }

    @Test
    void oneTablePerFamilyAllNamedByTheSpec() {
        assertThat(ruleset.tables()).extracting(NftTable::family).containsExactly(NftFamily.INET, NftFamily.BRIDGE);
        assertThat(ruleset.tables()).extracting(NftTable::name).containsOnly("mvm");
        assertThat(ruleset.table(NftFamily.INET).orElseThrow().chains()).extracting(NftChain::name)
                .containsExactly("input", "forward", "postrouting");
    }

    @Test
    void replaceScriptDeletesEachTableBeforeDefiningIt() {
        String script = ruleset.replaceScript();
        assertThat(script).startsWith("table inet mvm {}\ndelete table inet mvm\n"
                + "table bridge mvm {}\ndelete table bridge mvm\ntable inet mvm {\n");
        assertThat(script).containsOnlyOnce("table bridge mvm {\n");
        assertThat(NftRuleset.deleteScript("mvm_t1")).contains("delete table inet mvm_t1", "delete table bridge mvm_t1");
    }

    @Test
    void forwardOnlyWithinTenantAndDropsTheRestWithCounters() {
        assertThat(rules(NftFamily.INET, "forward")).containsSubsequence(
                "iifname \"mvb7\" oifname \"mvb7\" accept comment \"tenant acme: within tenant\"",
                "iifname \"mvb9\" oifname \"mvb9\" accept comment \"tenant beta: within tenant\"",
                "iifname \"mvb7\" counter drop comment \"tenant acme: deny forward from tenant\"",
                "iifname \"mvb9\" counter drop comment \"tenant beta: deny forward from tenant\"",
                "oifname \"mvb7\" counter drop comment \"tenant acme: deny forward to tenant\"",
                "oifname \"mvb9\" counter drop comment \"tenant beta: deny forward to tenant\"");
        List<String> forward = rules(NftFamily.INET, "forward");
        assertThat(forward.subList(0, forward.size() - 4)).allMatch(r -> r.contains(" accept "));
        assertThat(rules(NftFamily.INET, "forward")).noneMatch(r -> r.contains("\"mvb7\"") && r.contains("\"mvb9\""));
    }

    @Test
    void egressAndNatOnlyForTenantsThatAskForIt() {
        assertThat(rules(NftFamily.INET, "postrouting"))
                .containsExactly("oifname \"eth0\" ip saddr 10.240.7.0/24 masquerade comment \"tenant acme: egress nat\"");
        assertThat(rules(NftFamily.INET, "forward")).filteredOn(r -> r.contains("\"eth0\""))
                .allMatch(r -> r.contains("mvb7")).hasSize(2);
        HostNetworkSpec noEgress = new HostNetworkSpec("mvm", Optional.of("eth0"),
                List.of(SampleSpecs.acme(false), SampleSpecs.beta()), spec.instances(), List.of());
        NftRuleset closed = RulesetRenderer.render(noEgress);
        assertThat(closed.table(NftFamily.INET).orElseThrow().chain("postrouting").orElseThrow().rules()).isEmpty();
        assertThat(closed.replaceScript()).doesNotContain("eth0", "masquerade");
    }

    @Test
    void hostServicesClosedExceptWhatIsOpened() {
        assertThat(rules(NftFamily.INET, "input")).containsExactly(
                "iifname \"mvb7\" ct state established,related accept comment \"tenant acme: replies to host connections\"",
                "iifname \"mvb7\" tcp dport 8080 accept comment \"tenant acme: open tcp/8080\"",
                "iifname \"mvb7\" udp dport 53 accept comment \"tenant acme: open udp/53\"",
                "iifname \"mvb7\" counter drop comment \"tenant acme: deny host services\"",
                "iifname \"mvb9\" ct state established,related accept comment \"tenant beta: replies to host connections\"",
                "iifname \"mvb9\" udp dport 53 accept comment \"tenant beta: open udp/53\"",
                "iifname \"mvb9\" counter drop comment \"tenant beta: deny host services\"");
    }

    @Test
    void everyPortIsHeldToItsOwnMacAndAddress() {
        InstancePort worker = spec.instances().stream().filter(p -> p.instance().value().equals("a-1")).findFirst()
                .orElseThrow();
        assertThat(rules(NftFamily.BRIDGE, "prerouting"))
                .contains("iifname \"" + worker.portName() + "\" jump port_" + worker.portName()
                        + " comment \"instance a-1 of tenant acme\"")
                .hasSize(4);
        assertThat(rules(NftFamily.BRIDGE, RulesetRenderer.portChain(worker.portName()))).containsExactly(
                "ether saddr != " + worker.mac() + " counter drop comment \"instance a-1: spoofed source mac\"",
                "arp saddr ether != " + worker.mac() + " counter drop comment \"instance a-1: spoofed arp mac\"",
                "arp saddr ip != 10.240.7.3 counter drop comment \"instance a-1: spoofed arp address\"",
                "ip saddr != 10.240.7.3 counter drop comment \"instance a-1: spoofed source address\"",
                "ether type ip accept comment \"instance a-1: ipv4\"",
                "ether type arp accept comment \"instance a-1: arp\"",
                "counter drop comment \"instance a-1: other traffic\"");
    }

    @Test
    void framesReachAnInstanceOnlyFromPortsOfItsOwnTenant() {
        InstancePort b1 = spec.instances().stream().filter(p -> p.instance().value().equals("b-1")).findFirst()
                .orElseThrow();
        assertThat(rules(NftFamily.BRIDGE, "forward")).hasSize(4)
                .contains("oifname \"" + b1.portName() + "\" jump tenant_9 comment \"to instance b-1 of tenant beta\"");
        assertThat(rules(NftFamily.BRIDGE, "tenant_9")).containsExactly(
                "iifname \"" + b1.portName() + "\" accept comment \"from instance b-1\"",
                "counter drop comment \"tenant beta: frame from outside the tenant\"");
        assertThat(rules(NftFamily.BRIDGE, "tenant_7")).hasSize(4).last().asString().endsWith("outside the tenant\"");
    }

    @Test
    void gatewayMayForwardOnlyFromOrToItsTenantSubnet() {
        InstancePort gw = spec.instances().stream().filter(InstancePort::isGateway).findFirst().orElseThrow();
        List<String> rules = rules(NftFamily.BRIDGE, RulesetRenderer.portChain(gw.portName()));
        assertThat(rules).contains(
                "ip saddr 10.240.7.0/24 accept comment \"instance a-gw: gateway from tenant subnet\"",
                "ip daddr 10.240.7.0/24 accept comment \"instance a-gw: gateway to tenant subnet\"",
                "arp saddr ip != 10.240.7.0/24 counter drop comment \"instance a-gw: arp outside tenant subnet\"");
        assertThat(rules).first().asString().startsWith("ether saddr != " + gw.mac());
        assertThat(rules).last().isEqualTo("counter drop comment \"instance a-gw: other traffic\"");
        assertThat(String.join("\n", rules)).doesNotContain("10.240.9.");
    }

    @Test
    void definitionParsesBackToTheSameTables() {
        for (HostNetworkSpec shape : SampleSpecs.shapes()) {
            for (NftTable table : RulesetRenderer.render(shape).tables()) {
                assertThat(NftTable.parseListing(table.definition())).isEqualTo(table);
            }
        }
    }

    @Test
    void renderingIsDeterministic() {
        HostNetworkSpec reordered = new HostNetworkSpec("mvm", spec.uplink(), spec.tenants().reversed(),
                spec.instances().reversed(), spec.openedServices());
        assertThat(RulesetRenderer.render(reordered).replaceScript()).isEqualTo(ruleset.replaceScript());
    }

    @Test
    void gatewayJsonCarriesForwardingAndRoutes() {
        String json = GatewayConfig.render(spec, InstanceId.of("a-gw"));
        assertThat(json).contains("\"ip_forward\": true", "\"address\": \"10.240.7.2/24\"",
                "\"default_gateway\": \"10.240.7.1\"",
                "    {\"destination\": \"192.168.70.0/24\", \"via\": \"10.240.7.1\"}\n");
        assertThatThrownBy(() -> GatewayConfig.render(spec, InstanceId.of("a-1")))
                .isInstanceOf(MvmException.class).hasMessageContaining("only a gateway");
        assertThatThrownBy(() -> GatewayConfig.render(spec, InstanceId.of("zzz"))).hasMessageContaining("no port");
    }
}
