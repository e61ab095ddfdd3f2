package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Tenant networks across hosts, pure: the spec's checks, the rules, the drift, and who peers with whom. */
class OverlayTest {
    private static final TenantId A = TenantId.of("acme");
    private static final TenantId B = TenantId.of("beta");
    private static final TenantNetwork NET_A = new TenantNetwork(A, 7, Ipv4Subnet.parse("10.240.7.0/24"), false);
    private static final TenantNetwork NET_B = new TenantNetwork(B, 8, Ipv4Subnet.parse("10.240.8.0/24"), false);
    private static final Ipv4Address H1 = Ipv4Address.parse("192.168.50.1");
    private static final Ipv4Address H2 = Ipv4Address.parse("192.168.50.2");
    private static final InstancePort A1 = InstancePort.tap(InstanceId.of("a-1"), A, Ipv4Address.parse("10.240.7.2"),
            Role.WORKER);
    private static final RemotePort A2 = new RemotePort(InstanceId.of("a-2"), A, MacAddress.forInstance(InstanceId.of("a-2")),
            Ipv4Address.parse("10.240.7.3"), H2);

    private static HostNetworkSpec spec(List<RemotePort> remotes) {
        return new HostNetworkSpec("mvm", Optional.empty(), List.of(NET_A, NET_B), List.of(A1), List.of(), List.of(),
                Optional.of(new Overlay(H1)), remotes);
    }

    @Test
    void vniAndDeviceDeriveFromTheNetIdAndOnlyTenantsWithRemoteInstancesGetADevice() {
        assertThat(Overlay.vni(NET_A)).isEqualTo(7);
        assertThat(Overlay.device(NET_A)).isEqualTo("mvx7");
        assertThat(Overlay.device(new TenantNetwork(A, Overlay.MAX_VNI, Ipv4Subnet.parse("10.1.0.0/24"), false)))
                .hasSizeLessThanOrEqualTo(DeviceNames.MAX_LENGTH);
        assertThatThrownBy(() -> Overlay.vni(new TenantNetwork(A, Overlay.MAX_VNI + 1, Ipv4Subnet.parse("10.1.0.0/24"),
                false))).isInstanceOf(MvmException.class).hasMessageContaining("VNI");
        HostNetworkSpec s = spec(List.of(A2));
        assertThat(s.overlayTenants()).containsExactly(NET_A);
        assertThat(s.peersOf(A)).containsExactly(H2);
        assertThat(spec(List.of()).overlayTenants()).isEmpty();
        assertThat(s.withoutTenant(A).remotes()).isEmpty();
    }

    @Test
    void theSpecRefusesRemotesItCannotHonour() {
        assertThatThrownBy(() -> new HostNetworkSpec("mvm", Optional.empty(), List.of(NET_A), List.of(A1), List.of(),
                List.of(), Optional.empty(), List.of(A2))).hasMessageContaining("underlay");
        var foreign = new RemotePort(InstanceId.of("b-9"), TenantId.of("gamma"), MacAddress.parse("02:00:00:00:00:09"),
                Ipv4Address.parse("10.240.7.9"), H2);
        assertThatThrownBy(() -> spec(List.of(foreign))).hasMessageContaining("no network on this host");
        var outside = new RemotePort(InstanceId.of("a-3"), A, MacAddress.parse("02:00:00:00:00:03"),
                Ipv4Address.parse("10.240.8.3"), H2);
        assertThatThrownBy(() -> spec(List.of(outside))).hasMessageContaining("not a guest address");
        var sameAddress = new RemotePort(InstanceId.of("a-4"), A, MacAddress.parse("02:00:00:00:00:04"),
                A1.address(), H2);
        assertThatThrownBy(() -> spec(List.of(sameAddress))).isInstanceOf(MvmException.class)
                .satisfies(e -> assertThat(((MvmException) e).category()).isEqualTo(ErrorCategory.CONFLICT));
        var sameMac = new RemotePort(InstanceId.of("a-5"), A, A1.mac(), Ipv4Address.parse("10.240.7.5"), H2);
        assertThatThrownBy(() -> spec(List.of(sameMac))).hasMessageContaining("same MAC");
        var self = new RemotePort(InstanceId.of("a-6"), A, MacAddress.parse("02:00:00:00:00:06"),
                Ipv4Address.parse("10.240.7.6"), H1);
        assertThatThrownBy(() -> spec(List.of(self))).hasMessageContaining("own underlay");
        var twice = new RemotePort(A1.instance(), A, MacAddress.parse("02:00:00:00:00:07"),
                Ipv4Address.parse("10.240.7.7"), H2);
        assertThatThrownBy(() -> spec(List.of(twice))).hasMessageContaining("both here");
    }

    @Test
    void rulesAdmitVxlanOnlyFromPeersOfTheVniWithTheirMacsAndHoldTheVxlanPortToRegisteredPairs() {
        NftRuleset rules = RulesetRenderer.render(spec(List.of(A2)));
        String mac = A2.mac().value();
        NftChain input = rules.tables().get(0).chain("input").orElseThrow();
        assertThat(input.rules().subList(0, 2)).containsExactly(
                "udp dport 4789 ip saddr 192.168.50.2 @th,96,24 7 @th,176,48 0x" + mac.replace(":", "")
                        + " accept comment \"vxlan 7: instance a-2 on 192.168.50.2\"",
                "udp dport 4789 counter drop comment \"vxlan: unknown sender, vni or source mac\"");
        NftTable bridge = rules.tables().get(1);
        assertThat(bridge.chain("prerouting").orElseThrow().rules())
                .contains("iifname \"mvx7\" jump vxlan_7 comment \"remote instances of tenant acme\"");
        assertThat(bridge.chain("forward").orElseThrow().rules())
                .contains("oifname \"mvx7\" jump tenant_7 comment \"to remote instances of tenant acme\"");
        assertThat(bridge.chain("vxlan_7").orElseThrow().rules()).containsExactly(
                "ether saddr " + mac + " ip saddr 10.240.7.3 accept comment \"remote instance a-2 on 192.168.50.2: ipv4\"",
                "ether saddr " + mac + " arp saddr ether " + mac + " arp saddr ip 10.240.7.3 accept"
                        + " comment \"remote instance a-2 on 192.168.50.2: arp\"",
                "counter drop comment \"tenant acme: unregistered source over vxlan\"");
        assertThat(bridge.chain("tenant_7").orElseThrow().rules())
                .contains("iifname \"mvx7\" accept comment \"from remote instances\"");
        // Tenant beta runs here alone: no vxlan chain, and nothing of it is admitted from the underlay.
        assertThat(bridge.chain("vxlan_8")).isEmpty();
        assertThat(String.join("\n", input.rules())).doesNotContain("@th,96,24 8");
        // Without an overlay the ruleset is what it always was.
        HostNetworkSpec plain = new HostNetworkSpec("mvm", Optional.empty(), List.of(NET_A), List.of(A1), List.of());
        assertThat(RulesetRenderer.render(plain).replaceScript()).doesNotContain("4789", "vxlan");
    }

    private static ObservedHostNetwork live(ObservedVxlan vx, Optional<String> master, boolean up) {
        var bridgeA = new ObservedLink("mvb7", "bridge", Optional.empty(), true, Optional.empty(),
                Optional.of("mvm:mvm"), List.of("10.240.7.1/24"));
        var bridgeB = new ObservedLink("mvb8", "bridge", Optional.empty(), true, Optional.empty(),
                Optional.of("mvm:mvm"), List.of("10.240.8.1/24"));
        var tap = new ObservedLink(A1.portName(), "tun", Optional.of("mvb7"), true, Optional.empty(),
                Optional.of("mvm:mvm"), List.of());
        var device = new ObservedLink("mvx7", "vxlan", master, up, Optional.empty(), Optional.of("mvm:mvm"), List.of());
        return new ObservedHostNetwork(List.of(bridgeA, bridgeB, tap, device), Map.of(), Map.of("mvx7", vx));
    }

    private static ObservedVxlan good() {
        return new ObservedVxlan("mvx7", 7, Optional.of("192.168.50.1"), 4789, false, true, 1500,
                List.of(new ObservedVxlan.Fdb(A2.mac().value(), "192.168.50.2")),
                List.of(new ObservedVxlan.Neighbour("10.240.7.3", A2.mac().value())), List.of());
    }

    private static List<String> vxlanDrift(HostNetworkSpec spec, ObservedHostNetwork live) {
        return DriftFinder.find(spec, live).stream().filter(d -> !d.inRuleset()).map(NetworkDrift::describe).toList();
    }

    @Test
    void driftNamesEveryWayAVxlanDeviceCanBeWrong() {
        HostNetworkSpec s = spec(List.of(A2));
        assertThat(vxlanDrift(s, live(good(), Optional.of("mvb7"), true))).isEmpty();
        var wrong = new ObservedVxlan("mvx7", 9, Optional.of("192.168.50.3"), 8472, true, false, 1450,
                List.of(new ObservedVxlan.Fdb(A2.mac().value(), "192.168.50.3")),
                List.of(), List.of());
        assertThat(vxlanDrift(s, live(wrong, Optional.empty(), false))).containsExactlyInAnyOrder(
                "port mvx7 is on no bridge, expected mvb7",
                "device mvx7 is down",
                "vxlan device mvx7: vni is 9, expected 7",
                "vxlan device mvx7: local address is 192.168.50.3, expected 192.168.50.1",
                "vxlan device mvx7: udp port is 8472, expected 4789",
                "vxlan device mvx7: learns addresses from the wire, expected nolearning",
                "vxlan device mvx7: does not answer ARP itself, expected proxy",
                "vxlan device mvx7: mtu is 1450, expected 1500",
                "vxlan device mvx7 lacks fdb " + A2.mac() + " dst 192.168.50.2",
                "vxlan device mvx7 has unexpected fdb " + A2.mac() + " dst 192.168.50.3",
                "vxlan device mvx7 lacks neighbour 10.240.7.3 lladdr " + A2.mac());
        var missing = new ObservedHostNetwork(live(good(), Optional.of("mvb7"), true).links().subList(0, 3), Map.of());
        assertThat(DriftFinder.find(s, missing)).extracting(NetworkDrift::kind).contains("missing-vxlan");
        // A tenant whose remote instances all went: its device is an owned leftover on the bridge.
        assertThat(DriftFinder.find(spec(List.of()), live(good(), Optional.of("mvb7"), true)))
                .extracting(NetworkDrift::describe).contains("bridge mvb7 has port mvx7, which belongs to no instance");
    }

    @Test
    void peersAreTheOtherNodesInstancesOfTheTenantsANodeRunsAndNoMore() {
        NodeId n1 = NodeId.of("n1");
        NodeId n2 = NodeId.of("n2");
        NodeId n3 = NodeId.of("n3");
        var a1 = placed("a-1", A, 7, "10.240.7.2", n1);
        var a2 = placed("a-2", A, 7, "10.240.7.3", n2);
        var a3 = placed("a-3", A, 7, "10.240.7.4", n3);
        var b1 = placed("b-1", B, 8, "10.240.8.2", n2);
        Map<NodeId, Ipv4Address> underlays = Map.of(n1, H1, n2, H2);
        List<OverlayPeers.Placed> all = List.of(a1, a2, a3, b1);

        assertThat(OverlayPeers.forNode(n1, all, underlays)).extracting(p -> p.instance().value() + "@" + p.underlay())
                .as("a-3's node has no underlay; b-1's tenant does not run on n1").containsExactly("a-2@192.168.50.2");
        assertThat(OverlayPeers.forNode(n2, all, underlays)).extracting(p -> p.instance().value())
                .containsExactly("a-1");
        assertThat(OverlayPeers.forNode(n3, all, underlays)).as("no underlay of its own").isEmpty();
        // a-2 moves to n1: n2 no longer runs tenant acme and learns nothing of it; n1 has no remote left.
        var moved = List.of(a1, placed("a-2", A, 7, "10.240.7.3", n1), a3, b1);
        assertThat(OverlayPeers.forNode(n2, moved, underlays)).isEmpty();
        assertThat(OverlayPeers.forNode(n1, moved, underlays)).isEmpty();
        assertThat(OverlayPeers.forNode(n1, List.of(a1, a2), Map.of(n1, H1, n2, H1)))
                .as("a node claiming our own underlay address").isEmpty();
    }

    private static OverlayPeers.Placed placed(String id, TenantId tenant, int net, String ip, NodeId node) {
        InstanceId instance = InstanceId.of(id);
        return new OverlayPeers.Placed(instance, tenant, net, MacAddress.forInstance(instance), Ipv4Address.parse(ip),
                node);
    }
}
