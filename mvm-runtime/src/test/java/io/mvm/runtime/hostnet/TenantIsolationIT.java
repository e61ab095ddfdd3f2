package io.mvm.runtime.hostnet;

import static io.mvm.runtime.hostnet.NetnsLab.TCP_PORT;
import static io.mvm.runtime.hostnet.NetnsLab.UDP_PORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.core.netpolicy.NetworkDrift;
import io.mvm.core.netpolicy.OpenedService;
import io.mvm.core.netpolicy.PortKind;
import io.mvm.core.netpolicy.StandbyPort;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Tenant isolation on real kernel networking: a namespace is the host (bridges, veth ports, mvm's
 * nftables tables), one namespace per instance is its guest. Tenant a has a1 and a2, tenant b has
 * b1. Every test builds its own lab and deletes it afterwards, pass or fail.
 */
class TenantIsolationIT {
    private static final TenantId A = TenantId.of("a");
    private static final TenantId B = TenantId.of("b");
    private static final TenantNetwork NET_A = new TenantNetwork(A, 1, Ipv4Subnet.parse("10.77.1.0/24"), false);
    private static final TenantNetwork NET_B = new TenantNetwork(B, 2, Ipv4Subnet.parse("10.77.2.0/24"), false);

    private NetnsLab lab;
    private HostNetworkApplier applier;
    private InstancePort a1;
    private InstancePort a2;
    private InstancePort b1;
    private String nsA1;
    private String nsA2;
    private String nsB1;

    @BeforeAll
    static void capabilities() {
        HostCapabilities.requireHostNetworking();
    }

    @BeforeEach
    void buildLab() {
        lab = new NetnsLab();
        applier = new HostNetworkApplier(lab.host());
        a1 = port("a1", A, "10.77.1.2");
        a2 = port("a2", A, "10.77.1.3");
        b1 = port("b1", B, "10.77.2.2");
        nsA1 = lab.addGuest(a1, NET_A);
        nsA2 = lab.addGuest(a2, NET_A);
        nsB1 = lab.addGuest(b1, NET_B);
    }

    @AfterEach
    void deleteLab() {
        if (lab != null) {
            lab.close();
        }
    }

    private static InstancePort port(String id, TenantId tenant, String ip) {
        return port(id, tenant, ip, Role.WORKER);
    }

    private static InstancePort port(String id, TenantId tenant, String ip, Role role) {
        InstanceId instance = InstanceId.of(id);
        return new InstancePort(instance, tenant, DeviceNames.tap(instance), MacAddress.forInstance(instance),
                Ipv4Address.parse(ip), role, PortKind.VETH);
    }

    private HostNetworkSpec spec(Optional<String> uplink, List<TenantNetwork> tenants, List<OpenedService> services) {
        List<InstancePort> ports = List.of(a1, a2, b1).stream()
                .filter(p -> tenants.stream().anyMatch(t -> t.tenant().equals(p.tenant()))).toList();
        return new HostNetworkSpec(lab.table, uplink, tenants, ports, services);
    }

    private HostNetworkSpec twoTenants() {
        return spec(Optional.empty(), List.of(NET_A, NET_B), List.of());
    }

    @Test
    void withinTenantFlowsAndAcrossTenantsNothingDoesInEitherDirection() {
        HostNetworkSpec spec = twoTenants();
        applier.apply(spec);
        assertThat(applier.verify(spec)).isEmpty();
        lab.installProbe(nsA1);
        lab.installProbe(nsA2);
        lab.installProbe(nsB1);

        assertThat(lab.pingEventually(nsA1, "10.77.1.3")).as("a1 -> a2 ping").isTrue();
        assertThat(lab.pingEventually(nsA2, "10.77.1.2")).as("a2 -> a1 ping").isTrue();
        lab.listenTcp(nsA2, TCP_PORT);
        assertThat(lab.tcpConnects(nsA1, "10.77.1.3", TCP_PORT)).as("a1 -> a2 tcp").isTrue();
        lab.sendUdp(nsA1, "10.77.1.3", UDP_PORT);
        assertThat(lab.probeCount(nsA2, "udp")).as("a1 -> a2 udp arrived").isPositive();

        long aOutBefore = lab.hostCounter("inet", "tenant a: deny forward from tenant");
        long bOutBefore = lab.hostCounter("inet", "tenant b: deny forward from tenant");
        lab.listenTcp(nsB1, TCP_PORT);
        assertThat(lab.ping(nsA1, "10.77.2.2")).as("a1 -> b1 ping").isFalse();
        assertThat(lab.tcpConnects(nsA1, "10.77.2.2", TCP_PORT)).as("a1 -> b1 tcp").isFalse();
        lab.sendUdp(nsA1, "10.77.2.2", UDP_PORT);
        long a1IcmpBefore = lab.probeCount(nsA1, "icmp");
        lab.listenTcp(nsA1, TCP_PORT);
        assertThat(lab.ping(nsB1, "10.77.1.2")).as("b1 -> a1 ping").isFalse();
        assertThat(lab.tcpConnects(nsB1, "10.77.1.2", TCP_PORT)).as("b1 -> a1 tcp").isFalse();
        lab.sendUdp(nsB1, "10.77.1.2", UDP_PORT);

        assertThat(lab.probeCount(nsB1, "icmp")).as("icmp reaching b1").isZero();
        assertThat(lab.probeCount(nsB1, "tcp")).as("tcp reaching b1").isZero();
        assertThat(lab.probeCount(nsB1, "udp")).as("udp reaching b1").isZero();
        assertThat(lab.probeCount(nsA1, "icmp")).as("icmp from b1 reaching a1").isEqualTo(a1IcmpBefore);
        assertThat(lab.probeCount(nsA1, "tcp")).as("tcp reaching a1").isZero();
        assertThat(lab.probeCount(nsA1, "udp")).as("udp reaching a1").isZero();
        // Each direction: ping + at least one SYN + one datagram dropped by the routing hook.
        assertThat(lab.hostCounter("inet", "tenant a: deny forward from tenant") - aOutBefore).isGreaterThanOrEqualTo(3);
        assertThat(lab.hostCounter("inet", "tenant b: deny forward from tenant") - bOutBefore).isGreaterThanOrEqualTo(3);

        // Control: without mvm's inet table the host routes between the tenants, so the denial
        // above was the rules' doing.
        lab.exec(lab.hostNs, "nft", "delete", "table", "inet", lab.table);
        assertThat(lab.pingEventually(nsA1, "10.77.2.2")).as("a1 -> b1 with the rules gone").isTrue();
    }

    @Test
    void aGuestWithAnotherTenantsAddressOrAForeignMacGetsNothingThrough() {
        HostNetworkSpec spec = twoTenants();
        applier.apply(spec);
        lab.installProbe(nsA2);
        assertThat(lab.pingEventually(nsA1, "10.77.1.3")).as("a1 -> a2 before spoofing").isTrue();

        // a1 takes b1's address and talks to a2 directly (static neighbour, so not even ARP is needed).
        lab.exec(nsA1, "ip", "addr", "flush", "dev", "eth0");
        lab.exec(nsA1, "ip", "addr", "add", "10.77.2.2/24", "dev", "eth0");
        lab.exec(nsA1, "ip", "route", "add", "10.77.1.0/24", "dev", "eth0");
        lab.exec(nsA1, "ip", "neigh", "replace", "10.77.1.3", "lladdr", a2.mac().value(), "dev", "eth0");
        long icmpAtA2 = lab.probeCount(nsA2, "icmp");
        assertThat(lab.ping(nsA1, "10.77.1.3")).as("spoofed a1 -> a2").isFalse();
        assertThat(lab.ping(nsA1, "10.77.2.1")).as("spoofed a1 -> b's bridge").isFalse();
        assertThat(lab.probeCount(nsA2, "icmp")).as("spoofed echo requests reaching a2").isEqualTo(icmpAtA2);
        assertThat(lab.hostCounter("bridge", "instance a1: spoofed source address")).isPositive();
        assertThat(lab.hostCounter("bridge", "instance a1: spoofed arp address")).isPositive();

        // Back to its own address but with a foreign MAC.
        lab.exec(nsA1, "ip", "addr", "flush", "dev", "eth0");
        lab.exec(nsA1, "ip", "addr", "add", "10.77.1.2/24", "dev", "eth0");
        lab.exec(nsA1, "ip", "link", "set", "eth0", "address", "02:00:00:00:0a:99");
        assertThat(lab.ping(nsA1, "10.77.1.3")).as("a1 with a foreign mac -> a2").isFalse();
        assertThat(lab.probeCount(nsA2, "icmp")).isEqualTo(icmpAtA2);
        assertThat(lab.hostCounter("bridge", "instance a1: spoofed source mac")).isPositive();

        lab.exec(nsA1, "ip", "link", "set", "eth0", "address", a1.mac().value());
        assertThat(lab.pingEventually(nsA1, "10.77.1.3")).as("a1 -> a2 with its own identity again").isTrue();
    }

    @Test
    void aWarmVmStandingByReachesNothingUntilItsClaimPutsItOnItsTenantsBridge() {
        // a2 stands by for a claim: its port is on no bridge and everything it sends the host drops.
        HostNetworkSpec standing = new HostNetworkSpec(lab.table, Optional.empty(), List.of(NET_A, NET_B),
                List.of(a1, b1), List.of(), List.of(StandbyPort.of(a2.instance())));
        applier.apply(standing);
        assertThat(applier.verify(standing)).isEmpty();
        lab.listenTcp(lab.hostNs, TCP_PORT);
        lab.listenTcp(nsA1, TCP_PORT);
        assertThat(lab.exec(lab.hostNs, "ip", "-o", "link", "show", "dev", a2.portName())).doesNotContain(" master ");
        assertThat(lab.ping(nsA2, "10.77.1.2")).as("standby -> a1").isFalse();
        assertThat(lab.tcpConnects(nsA2, "10.77.1.2", TCP_PORT)).as("standby -> a1 tcp").isFalse();
        assertThat(lab.tcpConnects(nsA2, "10.77.1.1", TCP_PORT)).as("standby -> host service").isFalse();
        assertThat(lab.ping(nsA1, "10.77.1.3")).as("a1 -> standby").isFalse();
        // Even a host address reached through the standby tap's own link is refused.
        lab.exec(lab.hostNs, "ip", "addr", "add", "169.254.9.1/24", "dev", a2.portName());
        lab.exec(nsA2, "ip", "addr", "add", "169.254.9.2/24", "dev", "eth0");
        assertThat(lab.tcpConnects(nsA2, "169.254.9.1", TCP_PORT)).as("standby -> host over its own link").isFalse();
        assertThat(lab.hostCounter("inet", "standby instance a2: reaches nothing")).isPositive();
        lab.exec(lab.hostNs, "ip", "addr", "flush", "dev", a2.portName());
        // Enslaved by hand: drift, which the next apply repairs.
        lab.exec(lab.hostNs, "ip", "link", "set", "dev", a2.portName(), "master", NET_A.bridgeName());
        assertThat(applier.verify(standing)).singleElement().asString().contains("WrongMaster");
        applier.apply(standing);
        assertThat(applier.verify(standing)).isEmpty();

        // Claimed by tenant a: the same device joins a's bridge with a's rules.
        HostNetworkSpec claimed = twoTenants();
        applier.apply(claimed);
        assertThat(applier.verify(claimed)).isEmpty();
        assertThat(lab.pingEventually(nsA2, "10.77.1.2")).as("claimed -> a1").isTrue();
        assertThat(lab.tcpConnects(nsA2, "10.77.1.2", TCP_PORT)).as("claimed -> a1 tcp").isTrue();
        assertThat(lab.ping(nsA2, "10.77.2.2")).as("claimed -> b1").isFalse();
    }

    @Test
    void hostServicesAreClosedToGuestsUnlessOpenedForTheirTenant() {
        applier.apply(twoTenants());
        lab.listenTcp(lab.hostNs, TCP_PORT);
        assertThat(lab.tcpConnects(nsA1, "10.77.1.1", TCP_PORT)).as("a1 -> host service, closed").isFalse();
        assertThat(lab.hostCounter("inet", "tenant a: deny host services")).isPositive();

        OpenedService forA = new OpenedService(OpenedService.Transport.TCP, TCP_PORT, Optional.of(A));
        HostNetworkSpec opened = spec(Optional.empty(), List.of(NET_A, NET_B), List.of(forA));
        applier.apply(opened);
        assertThat(applier.verify(opened)).isEmpty();
        assertThat(lab.tcpConnects(nsB1, "10.77.2.1", TCP_PORT)).as("b1 -> host service opened for a only").isFalse();
        assertThat(lab.tcpConnects(nsA1, "10.77.1.1", TCP_PORT)).as("a1 -> host service opened for a").isTrue();
    }

    @Test
    void egressIsMasqueradedOnlyForTenantsThatHaveIt() {
        lab.addOutside();
        TenantNetwork aWithEgress = new TenantNetwork(A, 1, NET_A.subnet(), true);
        HostNetworkSpec spec = spec(Optional.of(NetnsLab.UPLINK), List.of(aWithEgress, NET_B), List.of());
        applier.apply(spec);
        assertThat(applier.verify(spec)).isEmpty();
        // The outside has no route to 10.77.0.0/16: a reply only comes back because of masquerading.
        assertThat(lab.pingEventually(nsA1, NetnsLab.OUTSIDE_ADDRESS)).as("a1 -> outside, egress on").isTrue();
        long bDrops = lab.hostCounter("inet", "tenant b: deny forward from tenant");
        assertThat(lab.ping(nsB1, NetnsLab.OUTSIDE_ADDRESS)).as("b1 -> outside, egress off").isFalse();
        assertThat(lab.hostCounter("inet", "tenant b: deny forward from tenant")).isGreaterThan(bDrops);
        assertThat(lab.exec(lab.hostNs, "nft", "list", "chain", "inet", lab.table, "postrouting"))
                .contains("tenant a: egress nat").doesNotContain("tenant b");
    }

    @Test
    void applyingTwiceOrAfterARestartLeavesExactlyOneCopyOfEachRule() {
        HostNetworkSpec spec = twoTenants();
        assertThat(applier.apply(spec)).isNotEmpty();
        String first = lab.exec(lab.hostNs, "nft", "-s", "list", "ruleset");
        HostNetworkApplier restarted = new HostNetworkApplier(lab.host());
        assertThat(restarted.apply(spec)).as("second apply changes nothing").isEmpty();
        // Replacing the tables unconditionally, twice, also lands on the very same ruleset.
        for (int i = 0; i < 2; i++) {
            lab.host().runOrFail(List.of("nft", "-f", "-"), io.mvm.core.netpolicy.RulesetRenderer.render(spec).replaceScript());
        }
        String again = lab.exec(lab.hostNs, "nft", "-s", "list", "ruleset");
        assertThat(again).isEqualTo(first);
        List<String> comments = again.lines().filter(l -> l.contains("comment \"")).toList();
        assertThat(comments).doesNotHaveDuplicates().isNotEmpty();
        assertThat(again.lines().filter(l -> l.startsWith("table "))).containsExactly(
                "table inet " + lab.table + " {", "table bridge " + lab.table + " {");
        assertThat(restarted.verify(spec)).isEmpty();
    }

    @Test
    void deletingATenantRemovesItsBridgePortAndRules() {
        applier.apply(twoTenants());
        HostNetworkSpec onlyA = twoTenants().withoutTenant(B);
        applier.apply(onlyA);

        String links = lab.exec(lab.hostNs, "ip", "-o", "link");
        assertThat(links).doesNotContain(NET_B.bridgeName() + ":", b1.portName()).contains(NET_A.bridgeName());
        String rules = lab.exec(lab.hostNs, "nft", "-s", "list", "ruleset");
        assertThat(rules).doesNotContain(NET_B.bridgeName(), b1.portName(), "tenant b", "10.77.2.");
        assertThat(applier.verify(onlyA)).isEmpty();
        assertThat(lab.pingEventually(nsA1, "10.77.1.3")).as("tenant a unaffected").isTrue();
    }

    @Test
    void destroyingAnInstanceRemovesItsPortAndRulesOnly() {
        applier.apply(twoTenants());
        HostNetworkSpec withoutA2 = new HostNetworkSpec(lab.table, Optional.empty(), List.of(NET_A, NET_B),
                List.of(a1, b1), List.of());
        assertThat(applier.apply(withoutA2)).contains("deleted " + a2.portName());
        assertThat(lab.exec(lab.hostNs, "ip", "-o", "link")).doesNotContain(a2.portName()).contains(a1.portName());
        assertThat(lab.exec(lab.hostNs, "nft", "-s", "list", "ruleset")).doesNotContain(a2.portName(), "instance a2")
                .contains("instance a1");
        assertThat(applier.verify(withoutA2)).isEmpty();
    }

    @Test
    void driftIsReportedAndTheNextApplyRepairsIt() {
        HostNetworkSpec spec = twoTenants();
        applier.apply(spec);
        String handles = lab.exec(lab.hostNs, "nft", "-a", "list", "chain", "inet", lab.table, "forward");
        String handle = handles.lines().filter(l -> l.contains("tenant a: within tenant")).findFirst().orElseThrow()
                .replaceAll(".*# handle (\\d+).*", "$1");
        lab.exec(lab.hostNs, "nft", "delete", "rule", "inet", lab.table, "forward", "handle", handle);
        if (lab.exec(lab.hostNs, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").strip().equals("1")) {
            // br_netfilter hands bridged frames to the inet forward hook: without the within-tenant
            // accept, the tenant's own L2 traffic falls to its drop rule.
            assertThat(lab.ping(nsA1, "10.77.1.3")).as("a1 -> a2 without the within-tenant rule").isFalse();
        }
        lab.exec(lab.hostNs, "ip", "link", "del", NET_B.bridgeName());
        String stray = "mvtstray" + lab.id;
        lab.exec(lab.hostNs, "ip", "tuntap", "add", "dev", stray, "mode", "tap");
        lab.exec(lab.hostNs, "ip", "link", "set", stray, "master", NET_A.bridgeName());
        lab.exec(lab.hostNs, "ip", "link", "set", a2.portName(), "down");

        List<NetworkDrift> drift = applier.verify(spec);
        assertThat(drift).extracting(NetworkDrift::kind).containsExactlyInAnyOrder(
                "rule-missing", "missing-bridge", "wrong-master", "stray-port", "device-down");
        assertThat(drift).extracting(NetworkDrift::describe).anySatisfy(d -> assertThat(d).contains("tenant a: within tenant"));

        assertThat(applier.apply(spec)).isNotEmpty();
        assertThat(applier.verify(spec)).isEmpty();
        assertThat(lab.exec(lab.hostNs, "ip", "-o", "link")).doesNotContain(stray);
        assertThat(lab.pingEventually(nsA1, "10.77.1.3")).as("a1 -> a2 after repair").isTrue();
    }

    @Test
    void aGatewayForwardsForItsOwnTenantOnlyAndOnlyAGatewayMay() {
        InstancePort gw = port("agw", A, "10.77.1.4", Role.GATEWAY);
        String nsGw = lab.addGuest(gw, NET_A);
        HostNetworkSpec spec = new HostNetworkSpec(lab.table, Optional.empty(), List.of(NET_A, NET_B),
                List.of(a1, a2, b1, gw), List.of());
        applier.apply(spec);
        assertThat(applier.verify(spec)).isEmpty();
        // Behind the gateway: a network only it can reach (as gateway.json routes would set up).
        lab.exec(nsGw, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        lab.exec(nsGw, "ip", "addr", "add", "192.168.70.1/32", "dev", "lo");
        lab.exec(nsA1, "ip", "route", "add", "192.168.70.0/24", "via", "10.77.1.4");

        // a1's echo request is its own; the reply from 192.168.70.1 is not the gateway's address,
        // but it is addressed to the gateway's tenant, so the gateway's port lets it through.
        assertThat(lab.pingEventually(nsA1, "192.168.70.1")).as("a1 -> network behind its gateway").isTrue();

        long gwOther = gatewayDrops();
        assertThat(lab.succeeds(nsGw, "ping", "-n", "-q", "-c", "1", "-W", "2", "-I", "192.168.70.1", "10.77.2.2"))
                .as("gateway forwarding from outside its tenant to tenant b").isFalse();
        assertThat(gatewayDrops()).isGreaterThan(gwOther);

        lab.exec(nsA2, "ip", "addr", "add", "192.168.70.9/32", "dev", "lo");
        // Linux may first ARP with the foreign address as sender; either way a spoof rule drops it.
        long a2Spoof = lab.hostCounter("bridge", "instance a2: spoofed");
        assertThat(lab.succeeds(nsA2, "ping", "-n", "-q", "-c", "1", "-W", "2", "-I", "192.168.70.9", "10.77.1.2"))
                .as("a worker sending a foreign source address, even within its tenant").isFalse();
        assertThat(lab.hostCounter("bridge", "instance a2: spoofed")).isGreaterThan(a2Spoof);
    }

    /** The IP packet, or the ARP request before it when Linux picks the foreign sender address. */
    private long gatewayDrops() {
        return lab.hostCounter("bridge", "instance agw: other traffic")
                + lab.hostCounter("bridge", "instance agw: arp outside tenant subnet");
    }

    @Test
    void aDeviceOnATenantBridgeThatIsNoInstanceReachesNoInstance() {
        HostNetworkSpec spec = twoTenants();
        applier.apply(spec);
        // A rogue guest wired to tenant a's bridge behind the applier's back (drift until the next
        // apply): it has a plausible address and MAC of its own, so anti-spoofing has nothing to say.
        InstancePort rogue = port("rogue", A, "10.77.1.99");
        String nsRogue = lab.addGuest(rogue, NET_A);
        lab.exec(lab.hostNs, "ip", "link", "set", rogue.portName(), "master", NET_A.bridgeName(), "up");
        long outsiders = lab.hostCounter("bridge", "tenant a: frame from outside the tenant");
        assertThat(lab.ping(nsRogue, "10.77.1.2")).as("rogue -> a1").isFalse();
        assertThat(lab.ping(nsA1, "10.77.1.99")).as("a1 -> rogue").isFalse();
        assertThat(lab.hostCounter("bridge", "tenant a: frame from outside the tenant")).isGreaterThan(outsiders);
        assertThat(applier.verify(spec)).extracting(NetworkDrift::kind).containsExactly("stray-port");

        applier.apply(spec);
        assertThat(applier.verify(spec)).isEmpty();
        assertThat(lab.exec(lab.hostNs, "ip", "-o", "link", "show", "master", NET_A.bridgeName()))
                .doesNotContain(rogue.portName());
    }

    @Test
    void anotherTablesDeviceIsNeverTakenOver() {
        lab.exec(lab.hostNs, "ip", "link", "add", NET_A.bridgeName(), "type", "bridge");
        lab.exec(lab.hostNs, "ip", "link", "set", NET_A.bridgeName(), "alias", DeviceNames.ownerAlias("other"));
        assertThatThrownBy(() -> applier.apply(twoTenants()))
                .isInstanceOfSatisfying(HostNetworkException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.CONFLICT))
                .hasMessageContaining("belongs to mvm:other");
        assertThat(lab.exec(lab.hostNs, "nft", "list", "tables")).doesNotContain(lab.table);
    }

    @Test
    void removeAllLeavesNothingOfTheTable() {
        applier.apply(twoTenants());
        applier.removeAll(lab.table);
        assertThat(lab.exec(lab.hostNs, "nft", "list", "tables")).doesNotContain(lab.table);
        assertThat(lab.exec(lab.hostNs, "ip", "-o", "link")).doesNotContain(DeviceNames.ownerAlias(lab.table),
                NET_A.bridgeName() + ":", NET_B.bridgeName() + ":", a1.portName());
    }
}
