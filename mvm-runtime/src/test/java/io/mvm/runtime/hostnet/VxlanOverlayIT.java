package io.mvm.runtime.hostnet;

import static io.mvm.runtime.hostnet.NetnsLab.TCP_PORT;
import static io.mvm.runtime.hostnet.NetnsLab.UDP_PORT;
import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.core.netpolicy.NetworkDrift;
import io.mvm.core.netpolicy.Overlay;
import io.mvm.core.netpolicy.PortKind;
import io.mvm.core.netpolicy.RemotePort;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A tenant network across two hosts on real kernel networking: two {@link NetnsLab}s are two
 * hosts, joined by a veth pair (the underlay, MTU 1550); guests are namespaces behind veth ports.
 * Tenant a has a1 on host 1 and a2, a3 on host 2; tenant b has b1 on host 2. A third namespace on
 * the underlay plays a rogue host. Everything is deleted afterwards, pass or fail.
 */
class VxlanOverlayIT {
    private static final TenantId A = TenantId.of("a");
    private static final TenantId B = TenantId.of("b");
    private static final TenantNetwork NET_A = new TenantNetwork(A, 1, Ipv4Subnet.parse("10.79.1.0/24"), false);
    private static final TenantNetwork NET_B = new TenantNetwork(B, 2, Ipv4Subnet.parse("10.79.2.0/24"), false);
    private static final Ipv4Address H1 = Ipv4Address.parse("172.30.79.1");
    private static final Ipv4Address H2 = Ipv4Address.parse("172.30.79.2");
    private static final String ROGUE = "172.30.79.3";

    private NetnsLab host1;
    private NetnsLab host2;
    private NetnsLab rogue;
    private HostNetworkApplier applier1;
    private HostNetworkApplier applier2;
    private final InstancePort a1 = port("a1", A, "10.79.1.2");
    private final InstancePort a2 = port("a2", A, "10.79.1.3");
    private final InstancePort a3 = port("a3", A, "10.79.1.4");
    private final InstancePort b1 = port("b1", B, "10.79.2.2");
    private String nsA1;
    private String nsA2;
    private String nsA3;
    private String nsB1;

    @BeforeAll
    static void capabilities() {
        HostCapabilities.requireHostNetworking();
    }

    @BeforeEach
    void buildHosts() {
        host1 = new NetnsLab();
        host2 = new NetnsLab();
        rogue = new NetnsLab();
        // The underlay: host 1's ul0 <-> host 2's ul0 through a bridge in the rogue's namespace, so
        // the rogue sits on the same wire. MTU 1550: a full 1500-byte guest frame plus VXLAN's 50.
        for (var h : List.of(host1, host2)) {
            rogue.exec(rogue.hostNs, "ip", "link", "add", "ul" + h.id, "type", "veth", "peer", "name", "ul0",
                    "netns", h.hostNs);
        }
        rogue.exec(rogue.hostNs, "ip", "link", "add", "ulbr", "type", "bridge");
        rogue.exec(rogue.hostNs, "ip", "link", "set", "ulbr", "mtu", "1550", "up");
        rogue.exec(rogue.hostNs, "ip", "addr", "add", ROGUE + "/24", "dev", "ulbr");
        for (var h : List.of(host1, host2)) {
            rogue.exec(rogue.hostNs, "ip", "link", "set", "ul" + h.id, "master", "ulbr", "mtu", "1550", "up");
            h.exec(h.hostNs, "ip", "link", "set", "ul0", "mtu", "1550", "up");
        }
        host1.exec(host1.hostNs, "ip", "addr", "add", H1 + "/24", "dev", "ul0");
        host2.exec(host2.hostNs, "ip", "addr", "add", H2 + "/24", "dev", "ul0");
        // The rogue's own bridge must not filter the underlay (br_netfilter would hand it to inet hooks).
        applier1 = new HostNetworkApplier(host1.host());
        applier2 = new HostNetworkApplier(host2.host());
        nsA1 = host1.addGuest(a1, NET_A);
        nsA2 = host2.addGuest(a2, NET_A);
        nsA3 = host2.addGuest(a3, NET_A);
        nsB1 = host2.addGuest(b1, NET_B);
    }

    @AfterEach
    void deleteHosts() {
        for (var lab : new NetnsLab[] {host1, host2, rogue}) {
            if (lab != null) {
                lab.close();
            }
        }
    }

    private static InstancePort port(String id, TenantId tenant, String ip) {
        InstanceId instance = InstanceId.of(id);
        return new InstancePort(instance, tenant, DeviceNames.tap(instance), MacAddress.forInstance(instance),
                Ipv4Address.parse(ip), Role.WORKER, PortKind.VETH);
    }

    private static RemotePort remote(InstancePort p, Ipv4Address host) {
        return new RemotePort(p.instance(), p.tenant(), p.mac(), p.address(), host);
    }

    private HostNetworkSpec spec(NetnsLab lab, Ipv4Address underlay, List<TenantNetwork> tenants,
                                 List<InstancePort> local, List<RemotePort> remotes) {
        return new HostNetworkSpec(lab.table, Optional.empty(), tenants, local, List.of(), List.of(),
                Optional.of(new Overlay(underlay)), remotes);
    }

    private HostNetworkSpec host1Spec() {
        return spec(host1, H1, List.of(NET_A), List.of(a1), List.of(remote(a2, H2), remote(a3, H2)));
    }

    private HostNetworkSpec host2Spec() {
        return spec(host2, H2, List.of(NET_A, NET_B), List.of(a2, a3, b1), List.of(remote(a1, H1)));
    }

    @Test
    void aTenantSpansTwoHostsAndNothingElseGetsIn() {
        HostNetworkSpec s1 = host1Spec();
        HostNetworkSpec s2 = host2Spec();
        applier1.apply(s1);
        applier2.apply(s2);
        assertThat(applier1.verify(s1)).isEmpty();
        assertThat(applier2.verify(s2)).isEmpty();
        assertThat(applier1.apply(s1)).as("second apply").isEmpty();
        assertThat(host1.exec(host1.hostNs, "ip", "-d", "link", "show", "mvx1"))
                .contains("vxlan id 1", "local " + H1, "dstport 4789", "nolearning", "proxy", "mtu 1500");
        assertThat(host1.exec(host1.hostNs, "bridge", "fdb", "show", "dev", "mvx1"))
                .contains(a2.mac() + " dst " + H2, a3.mac() + " dst " + H2)
                .doesNotContain("00:00:00:00:00:00");
        for (String ns : List.of(nsA1, nsA2, nsB1)) {
            host1.installProbe(ns);
        }

        // Within tenant a, across hosts: ICMP, TCP, UDP, and large packets (1400 and 8000 bytes; a
        // full 1500-byte frame with DF set proves the 1550-byte underlay carries it unfragmented).
        assertThat(host1.pingEventually(nsA1, "10.79.1.3")).as("a1 -> a2").isTrue();
        assertThat(host1.pingEventually(nsA2, "10.79.1.2")).as("a2 -> a1").isTrue();
        assertThat(host1.succeeds(nsA1, "ping", "-n", "-q", "-c", "2", "-W", "3", "-s", "1400", "10.79.1.3")).isTrue();
        assertThat(host1.succeeds(nsA1, "ping", "-n", "-q", "-c", "2", "-W", "3", "-s", "8000", "10.79.1.3")).isTrue();
        assertThat(host1.succeeds(nsA2, "ping", "-n", "-q", "-c", "2", "-W", "3", "-M", "do", "-s", "1472", "10.79.1.2"))
                .as("full-size frame, DF set").isTrue();
        host2.listenTcp(nsA2, TCP_PORT);
        assertThat(host1.tcpConnects(nsA1, "10.79.1.3", TCP_PORT)).as("a1 -> a2 tcp").isTrue();
        host1.sendUdp(nsA1, "10.79.1.3", UDP_PORT);
        assertThat(host1.probeCount(nsA2, "udp")).as("a1 -> a2 udp arrived").isPositive();

        // Tenant b on host 2 reaches neither a1 nor a2, and neither reaches it.
        long bIcmp = host1.probeCount(nsB1, "icmp");
        assertThat(host1.ping(nsA1, "10.79.2.2")).as("a1 -> b1").isFalse();
        assertThat(host1.ping(nsA2, "10.79.2.2")).as("a2 -> b1").isFalse();
        long a1Icmp = host1.probeCount(nsA1, "icmp");
        long a2Icmp = host1.probeCount(nsA2, "icmp");
        assertThat(host1.ping(nsB1, "10.79.1.2")).as("b1 -> a1").isFalse();
        assertThat(host1.ping(nsB1, "10.79.1.3")).as("b1 -> a2").isFalse();
        // b1 taking an address of tenant a: its own port chain drops it before it leaves host 2.
        host2.exec(nsB1, "ip", "addr", "add", "10.79.1.50/24", "dev", "eth0");
        assertThat(host1.ping(nsB1, "10.79.1.2")).as("b1 spoofing into a's subnet -> a1").isFalse();
        assertThat(host1.probeCount(nsB1, "icmp")).isEqualTo(bIcmp);
        assertThat(host1.probeCount(nsA1, "icmp")).isEqualTo(a1Icmp);
        assertThat(host1.probeCount(nsA2, "icmp")).isEqualTo(a2Icmp);

        // A host on the underlay that runs no instance of tenant a sends VXLAN with its VNI: dropped.
        long unknownBefore = host1.hostCounter("inet", "vxlan: unknown sender");
        rogue.exec(rogue.hostNs, "ip", "link", "add", "rvx", "type", "vxlan", "id", "1", "local", ROGUE, "remote",
                H1.toString(), "dstport", "4789");
        rogue.exec(rogue.hostNs, "ip", "addr", "add", "10.79.1.60/24", "dev", "rvx");
        rogue.exec(rogue.hostNs, "ip", "link", "set", "rvx", "up");
        rogue.exec(rogue.hostNs, "ip", "neigh", "replace", "10.79.1.2", "lladdr", a1.mac().value(), "dev", "rvx");
        assertThat(rogue.ping(rogue.hostNs, "10.79.1.2")).as("rogue host -> a1").isFalse();
        assertThat(host1.hostCounter("inet", "vxlan: unknown sender")).isGreaterThan(unknownBefore);
        assertThat(host1.probeCount(nsA1, "icmp")).isEqualTo(a1Icmp);

        // A compromised host 2 (its own rules gone) sends from a device on tenant a's bridge: with a
        // MAC not registered for it, host 1 drops it on the underlay; with a2's MAC but another
        // address, host 1's vxlan port chain drops it.
        host2.exec(host2.hostNs, "nft", "delete", "table", "bridge", host2.table);
        InstancePort fake = port("fake", A, "10.79.1.77");
        String nsFake = host2.addGuest(fake, NET_A);
        host2.exec(host2.hostNs, "ip", "link", "set", fake.portName(), "master", NET_A.bridgeName(), "up");
        host2.installProbe(nsFake);
        assertThat(host2.ping(nsFake, "10.79.1.2")).as("unregistered mac over vxlan -> a1").isFalse();
        assertThat(host1.probeCount(nsA1, "icmp")).isEqualTo(a1Icmp);
        host2.exec(nsFake, "ip", "link", "set", "eth0", "down");
        host2.exec(nsFake, "ip", "link", "set", "eth0", "address", a2.mac().value());
        host2.exec(nsFake, "ip", "link", "set", "eth0", "up");
        host2.exec(nsFake, "ip", "route", "replace", "default", "via", NET_A.bridgeAddress().toString());
        host2.exec(host2.hostNs, "ip", "link", "set", a2.portName(), "down");
        long spoofBefore = host1.hostCounter("bridge", "tenant a: unregistered source over vxlan");
        assertThat(host2.ping(nsFake, "10.79.1.2")).as("a2's mac with another address -> a1").isFalse();
        assertThat(host1.hostCounter("bridge", "tenant a: unregistered source over vxlan")).isGreaterThan(spoofBefore);
        assertThat(host1.probeCount(nsA1, "icmp")).isEqualTo(a1Icmp);
    }

    @Test
    void driftIsReportedAndRepairedAndAMoveAndATenantDeletionUpdateEveryHost() {
        HostNetworkSpec s1 = host1Spec();
        HostNetworkSpec s2 = host2Spec();
        applier1.apply(s1);
        applier2.apply(s2);

        // Drift: an entry deleted, a stale one injected, the device downed; verify names each, apply repairs.
        host1.exec(host1.hostNs, "bridge", "fdb", "del", a2.mac().value(), "dev", "mvx1", "dst", H2.toString(), "self");
        host1.exec(host1.hostNs, "bridge", "fdb", "append", "02:00:00:00:00:99", "dev", "mvx1", "dst", ROGUE, "self",
                "permanent");
        host1.exec(host1.hostNs, "ip", "neigh", "del", "10.79.1.4", "dev", "mvx1");
        List<NetworkDrift> drift = applier1.verify(s1);
        assertThat(drift).extracting(NetworkDrift::describe).containsExactlyInAnyOrder(
                "vxlan device mvx1 lacks fdb " + a2.mac() + " dst " + H2,
                "vxlan device mvx1 has unexpected fdb 02:00:00:00:00:99 dst " + ROGUE,
                "vxlan device mvx1 lacks neighbour 10.79.1.4 lladdr " + a3.mac());
        applier1.apply(s1);
        assertThat(applier1.verify(s1)).isEmpty();
        host1.exec(host1.hostNs, "ip", "link", "del", "mvx1");
        assertThat(applier1.verify(s1)).extracting(NetworkDrift::kind).contains("missing-vxlan");
        applier1.apply(s1);
        assertThat(applier1.verify(s1)).isEmpty();
        assertThat(host1.pingEventually(nsA1, "10.79.1.3")).as("a1 -> a2 after repair").isTrue();

        // a2 moves from host 2 to host 1 (same MAC, same address): both hosts' entries follow it.
        host2.exec(host2.hostNs, "ip", "link", "del", a2.portName());
        String nsA2moved = host1.addGuest(a2, NET_A);
        HostNetworkSpec m1 = spec(host1, H1, List.of(NET_A), List.of(a1, a2), List.of(remote(a3, H2)));
        HostNetworkSpec m2 = spec(host2, H2, List.of(NET_A, NET_B), List.of(a3, b1), List.of(remote(a1, H1),
                remote(a2, H1)));
        applier1.apply(m1);
        applier2.apply(m2);
        assertThat(applier1.verify(m1)).isEmpty();
        assertThat(applier2.verify(m2)).isEmpty();
        assertThat(host2.exec(host2.hostNs, "bridge", "fdb", "show", "dev", "mvx1")).contains(a2.mac() + " dst " + H1);
        assertThat(host1.exec(host1.hostNs, "bridge", "fdb", "show", "dev", "mvx1")).doesNotContain(a2.mac() + " dst");
        assertThat(host1.pingEventually(nsA3, "10.79.1.3")).as("a3 (host 2) -> a2 moved to host 1").isTrue();
        assertThat(host1.pingEventually(nsA2moved, "10.79.1.4")).as("a2 moved -> a3").isTrue();
        assertThat(host1.pingEventually(nsA2moved, "10.79.1.2")).as("a2 moved -> a1 (now local)").isTrue();

        // Tenant a deleted everywhere: no vxlan device, no entries, no rules left on either host.
        HostNetworkSpec d1 = spec(host1, H1, List.of(), List.of(), List.of());
        HostNetworkSpec d2 = spec(host2, H2, List.of(NET_B), List.of(b1), List.of());
        applier1.apply(d1);
        applier2.apply(d2);
        assertThat(applier1.verify(d1)).isEmpty();
        assertThat(applier2.verify(d2)).isEmpty();
        for (var h : List.of(host1, host2)) {
            assertThat(h.exec(h.hostNs, "ip", "-d", "link", "show")).doesNotContain("vxlan", "mvx1", "mvb1");
            String rules = h.exec(h.hostNs, "nft", "list", "ruleset");
            assertThat(rules).doesNotContain("mvx1", "vxlan 1:", "tenant a");
        }
        List<String> leftovers = new ArrayList<>();
        for (var h : List.of(host1, host2)) {
            leftovers.add(h.exec(h.hostNs, "ip", "neigh", "show", "10.79.1.2"));
        }
        assertThat(String.join("", leftovers)).isBlank();
    }
}
