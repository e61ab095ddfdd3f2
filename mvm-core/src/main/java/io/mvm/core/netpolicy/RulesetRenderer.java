package io.mvm.core.netpolicy;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Renders the nftables rules that enforce tenant isolation on one host.
 *
 * <p>Two tables, both named by the spec's table name, because no single family sees everything:
 * <ul>
 *   <li>{@code bridge} — frames entering a tenant bridge from an instance's port jump to that port's
 *       chain, which drops anything not sent from the instance's own MAC and IPv4 address (ARP
 *       included) and every EtherType but IPv4 and ARP; frames the bridge forwards to an instance's
 *       port must have entered through a port of the same tenant. This is the only family that sees
 *       traffic between two ports of one bridge whether or not br_netfilter is loaded.</li>
 *   <li>{@code inet} — routed and host-bound traffic. {@code forward}: a tenant's bridge may only
 *       forward to itself (routing between its own subnets, and bridged traffic when br_netfilter
 *       passes it through here) and, with egress, to the uplink and back; everything else from or to
 *       a tenant bridge is counted and dropped, so cross-tenant routing through the host is denied in
 *       both directions. {@code input}: guests reach no host service except replies to the host's own
 *       connections and explicitly opened ports. {@code postrouting}: masquerade to the uplink for
 *       tenants with egress.</li>
 * </ul>
 * Base chains have policy accept and every rule matches a tenant device by name, so the tables
 * never affect traffic that is not mvm's (other bridges, another fleet's table in tests).
 */
public final class RulesetRenderer {
    private static final String FILTER_INPUT = "type filter hook input priority filter; policy accept;";
    private static final String FILTER_FORWARD = "type filter hook forward priority filter; policy accept;";
    private static final String NAT_POSTROUTING = "type nat hook postrouting priority srcnat; policy accept;";
    private static final String BRIDGE_PREROUTING = "type filter hook prerouting priority filter; policy accept;";
    private static final String BRIDGE_FORWARD = "type filter hook forward priority filter; policy accept;";

    private RulesetRenderer() {}

    public static NftRuleset render(HostNetworkSpec spec) {
        return new NftRuleset(spec.tableName(), List.of(inet(spec), bridge(spec)));
    }

    /** The name of the bridge-family chain holding one port's anti-spoofing rules. */
    public static String portChain(String portName) {
        return "port_" + portName;
    }

    private static NftTable inet(HostNetworkSpec spec) {
        List<String> input = new ArrayList<>();
        List<String> forward = new ArrayList<>();
        List<String> postrouting = new ArrayList<>();
        List<String> dropFrom = new ArrayList<>();
        List<String> dropTo = new ArrayList<>();
        spec.overlay().ifPresent(o -> input.addAll(underlayRules(spec)));
        for (StandbyPort p : spec.standby()) {
            // A warm VM waiting for a tenant: nothing it sends reaches the host or is routed anywhere.
            String who = "standby instance " + p.instance() + ": ";
            input.add("iifname " + quote(p.portName()) + " counter drop" + comment(who + "reaches nothing"));
            forward.add("iifname " + quote(p.portName()) + " counter drop" + comment(who + "reaches nothing"));
            forward.add("oifname " + quote(p.portName()) + " counter drop" + comment(who + "reachable by nothing"));
        }
        for (TenantNetwork t : spec.tenants()) {
            String br = quote(t.bridgeName());
            String who = "tenant " + t.tenant() + ": ";
            input.add("iifname " + br + " ct state established,related accept"
                    + comment(who + "replies to host connections"));
            for (OpenedService s : spec.openedServices()) {
                if (s.appliesTo(t.tenant())) {
                    input.add("iifname " + br + " " + s.transport().nftName() + " dport " + s.port() + " accept"
                            + comment(who + "open " + s.transport().nftName() + "/" + s.port()));
                }
            }
            input.add("iifname " + br + " counter drop" + comment(who + "deny host services"));

            forward.add("iifname " + br + " oifname " + br + " accept" + comment(who + "within tenant"));
            Optional<String> uplink = spec.uplink().filter(u -> t.egress());
            uplink.ifPresent(u -> {
                forward.add("iifname " + br + " oifname " + quote(u) + " ip saddr " + t.subnet() + " accept"
                        + comment(who + "egress"));
                forward.add("iifname " + quote(u) + " oifname " + br + " ct state established,related accept"
                        + comment(who + "egress replies"));
                postrouting.add("oifname " + quote(u) + " ip saddr " + t.subnet() + " masquerade"
                        + comment(who + "egress nat"));
            });
            dropFrom.add("iifname " + br + " counter drop" + comment(who + "deny forward from tenant"));
            dropTo.add("oifname " + br + " counter drop" + comment(who + "deny forward to tenant"));
        }
        // All accepts first, then drops by source tenant, then by destination: a packet from one
        // tenant to another is counted against the tenant that sent it, and "to tenant" counts
        // only what came from outside every tenant (unsolicited traffic from the uplink).
        forward.addAll(dropFrom);
        forward.addAll(dropTo);
        return new NftTable(NftFamily.INET, spec.tableName(), List.of(
                new NftChain("input", Optional.of(FILTER_INPUT), input),
                new NftChain("forward", Optional.of(FILTER_FORWARD), forward),
                new NftChain("postrouting", Optional.of(NAT_POSTROUTING), postrouting)));
    }

    /**
     * VXLAN arriving at this host: accepted only from a host that runs an instance of the tenant
     * whose VNI the packet carries, and only with that instance's MAC as the inner source (VNI at
     * bit 96 of the UDP header, 24 bits; inner source MAC at bit 176, 48 bits). Everything else sent
     * to the VXLAN port is dropped and counted: a host that runs no instance of a tenant cannot
     * inject frames into its network, and a peer cannot speak for another peer's instances.
     */
    private static List<String> underlayRules(HostNetworkSpec spec) {
        List<String> rules = new ArrayList<>();
        for (TenantNetwork t : spec.overlayTenants()) {
            int vni = Overlay.vni(t);
            for (RemotePort r : spec.remotesOf(t.tenant())) {
                rules.add("udp dport " + Overlay.DSTPORT + " ip saddr " + r.host() + " @th,96,24 " + vni
                        + " @th,176,48 0x" + r.mac().value().replace(":", "") + " accept"
                        + comment("vxlan " + vni + ": instance " + r.instance() + " on " + r.host()));
            }
        }
        rules.add("udp dport " + Overlay.DSTPORT + " counter drop"
                + comment("vxlan: unknown sender, vni or source mac"));
        return rules;
    }

    /** The bridge-family chain holding the anti-spoofing rules of a tenant's VXLAN port. */
    public static String vxlanChain(TenantNetwork tenant) {
        return "vxlan_" + tenant.netId();
    }

    private static NftChain vxlanPortChain(HostNetworkSpec spec, TenantNetwork t) {
        List<String> rules = new ArrayList<>();
        for (RemotePort r : spec.remotesOf(t.tenant())) {
            String who = "remote instance " + r.instance() + " on " + r.host() + ": ";
            rules.add("ether saddr " + r.mac() + " ip saddr " + r.address() + " accept" + comment(who + "ipv4"));
            rules.add("ether saddr " + r.mac() + " arp saddr ether " + r.mac() + " arp saddr ip " + r.address()
                    + " accept" + comment(who + "arp"));
        }
        rules.add("counter drop" + comment("tenant " + t.tenant() + ": unregistered source over vxlan"));
        return new NftChain(vxlanChain(t), Optional.empty(), rules);
    }

    private static NftTable bridge(HostNetworkSpec spec) {
        List<String> prerouting = new ArrayList<>();
        List<String> forward = new ArrayList<>();
        List<NftChain> ports = new ArrayList<>();
        List<NftChain> tenants = new ArrayList<>();
        for (InstancePort p : spec.instances()) {
            TenantNetwork t = spec.tenant(p.tenant()).orElseThrow();
            String chain = portChain(p.portName());
            prerouting.add("iifname " + quote(p.portName()) + " jump " + chain
                    + comment("instance " + p.instance() + " of tenant " + p.tenant()));
            forward.add("oifname " + quote(p.portName()) + " jump " + tenantChain(t)
                    + comment("to instance " + p.instance() + " of tenant " + p.tenant()));
            ports.add(new NftChain(chain, Optional.empty(), portRules(p, t)));
        }
        for (TenantNetwork t : spec.overlayTenants()) {
            // Frames from other hosts are held to the MAC/address pairs registered for the tenant,
            // as a local tap is held to its own; frames towards other hosts only from the tenant.
            String vx = Overlay.device(t);
            prerouting.add("iifname " + quote(vx) + " jump " + vxlanChain(t)
                    + comment("remote instances of tenant " + t.tenant()));
            forward.add("oifname " + quote(vx) + " jump " + tenantChain(t)
                    + comment("to remote instances of tenant " + t.tenant()));
            ports.add(vxlanPortChain(spec, t));
        }
        for (TenantNetwork t : spec.tenants()) {
            // Frames bridged to an instance must come from a port of the same tenant: a stray
            // device or another tenant's port wrongly enslaved to this bridge reaches no instance.
            List<String> members = new ArrayList<>();
            for (InstancePort p : spec.instancesOf(t.tenant())) {
                members.add("iifname " + quote(p.portName()) + " accept" + comment("from instance " + p.instance()));
            }
            if (!spec.remotesOf(t.tenant()).isEmpty()) {
                members.add("iifname " + quote(Overlay.device(t)) + " accept" + comment("from remote instances"));
            }
            members.add("counter drop" + comment("tenant " + t.tenant() + ": frame from outside the tenant"));
            tenants.add(new NftChain(tenantChain(t), Optional.empty(), members));
        }
        List<NftChain> chains = new ArrayList<>();
        chains.add(new NftChain("prerouting", Optional.of(BRIDGE_PREROUTING), prerouting));
        chains.add(new NftChain("forward", Optional.of(BRIDGE_FORWARD), forward));
        chains.addAll(ports);
        chains.addAll(tenants);
        return new NftTable(NftFamily.BRIDGE, spec.tableName(), chains);
    }

    /** The bridge-family chain that admits frames to a tenant's instances only from its own ports. */
    public static String tenantChain(TenantNetwork tenant) {
        return "tenant_" + tenant.netId();
    }

    private static List<String> portRules(InstancePort p, TenantNetwork t) {
        String who = "instance " + p.instance() + ": ";
        List<String> rules = new ArrayList<>();
        rules.add("ether saddr != " + p.mac() + " counter drop" + comment(who + "spoofed source mac"));
        rules.add("arp saddr ether != " + p.mac() + " counter drop" + comment(who + "spoofed arp mac"));
        if (p.isGateway()) {
            // A gateway forwards for its tenant: it may send packets that are not its own, but only
            // ones from or to its tenant's subnet, and it may only claim its tenant's addresses.
            rules.add("arp saddr ip != " + t.subnet() + " counter drop" + comment(who + "arp outside tenant subnet"));
            rules.add("ip saddr " + t.subnet() + " accept" + comment(who + "gateway from tenant subnet"));
            rules.add("ip daddr " + t.subnet() + " accept" + comment(who + "gateway to tenant subnet"));
        } else {
            rules.add("arp saddr ip != " + p.address() + " counter drop" + comment(who + "spoofed arp address"));
            rules.add("ip saddr != " + p.address() + " counter drop" + comment(who + "spoofed source address"));
            rules.add("ether type ip accept" + comment(who + "ipv4"));
        }
        rules.add("ether type arp accept" + comment(who + "arp"));
        rules.add("counter drop" + comment(who + "other traffic"));
        return rules;
    }

    private static String quote(String deviceName) {
        return "\"" + deviceName + "\"";
    }

    private static String comment(String text) {
        return " comment \"" + text + "\"";
    }
}
