package io.mvm.core.netpolicy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Compares a host's live network with its desired state: pure, so every kind of drift is unit-tested. */
public final class DriftFinder {

    private DriftFinder() {}

    /** Drift against the desired tables in the text form {@link RulesetRenderer} writes. */
    public static List<NetworkDrift> find(HostNetworkSpec spec, ObservedHostNetwork live) {
        return find(spec, live, RulesetRenderer.render(spec).tables());
    }

    /**
     * Drift against {@code desiredTables}: the spec's ruleset in the same form as {@code live}'s
     * tables. On a host both are nftables' own JSON ({@code nft -j}), canonicalised the same way, so
     * the comparison never depends on how nft happens to print a rule as text.
     */
    public static List<NetworkDrift> find(HostNetworkSpec spec, ObservedHostNetwork live, List<NftTable> desiredTables) {
        List<NetworkDrift> drift = new ArrayList<>();
        Set<String> desiredBridges = new HashSet<>();
        Set<String> desiredPorts = new HashSet<>();
        for (TenantNetwork t : spec.tenants()) {
            desiredBridges.add(t.bridgeName());
            Optional<ObservedLink> bridge = live.link(t.bridgeName());
            if (bridge.isEmpty() || !bridge.get().kind().equals("bridge")) {
                drift.add(new NetworkDrift.MissingBridge(t.bridgeName(), t.tenant().value()));
                continue;
            }
            if (!bridge.get().up()) {
                drift.add(new NetworkDrift.DeviceDown(t.bridgeName()));
            }
            if (!bridge.get().ipv4().equals(List.of(t.bridgeCidr()))) {
                drift.add(new NetworkDrift.WrongAddresses(t.bridgeName(), t.bridgeCidr(), bridge.get().ipv4()));
            }
        }
        for (InstancePort p : spec.instances()) {
            desiredPorts.add(p.portName());
            String bridgeName = spec.tenant(p.tenant()).orElseThrow().bridgeName();
            Optional<ObservedLink> port = live.link(p.portName());
            if (port.isEmpty()) {
                drift.add(new NetworkDrift.MissingPort(p.portName(), p.instance().value()));
                continue;
            }
            if (!port.get().master().equals(Optional.of(bridgeName))) {
                drift.add(new NetworkDrift.WrongMaster(p.portName(), bridgeName, port.get().master().orElse("")));
            }
            if (!port.get().up()) {
                drift.add(new NetworkDrift.DeviceDown(p.portName()));
            }
        }
        for (StandbyPort p : spec.standby()) {
            desiredPorts.add(p.portName());
            Optional<ObservedLink> port = live.link(p.portName());
            if (port.isEmpty()) {
                drift.add(new NetworkDrift.MissingPort(p.portName(), p.instance().value()));
            } else if (port.get().master().isPresent()) {
                // A standby tap must be on no bridge at all: expected master "" (none).
                drift.add(new NetworkDrift.WrongMaster(p.portName(), "", port.get().master().get()));
            }
        }
        for (TenantNetwork t : spec.overlayTenants()) {
            String device = Overlay.device(t);
            desiredPorts.add(device);
            findVxlanDrift(spec, t, device, live, drift);
        }
        String owner = DeviceNames.ownerAlias(spec.tableName());
        for (ObservedLink link : live.links()) {
            if (desiredBridges.contains(link.name()) || desiredPorts.contains(link.name())) {
                continue;
            }
            if (link.master().filter(desiredBridges::contains).isPresent()) {
                drift.add(new NetworkDrift.StrayPort(link.name(), link.master().get()));
            } else if (link.alias().equals(Optional.of(owner))) {
                drift.add(new NetworkDrift.ExtraDevice(link.name(), link.kind()));
            }
        }
        for (NftTable want : desiredTables) {
            Optional<NftTable> have = live.table(want.family());
            if (have.isEmpty()) {
                drift.add(new NetworkDrift.TableMissing(want.family().keyword(), want.name()));
            } else {
                compareTable(want, have.get(), drift);
            }
        }
        return List.copyOf(drift);
    }

    private static void findVxlanDrift(HostNetworkSpec spec, TenantNetwork t, String device, ObservedHostNetwork live,
                                       List<NetworkDrift> drift) {
        Optional<ObservedLink> link = live.link(device);
        Optional<ObservedVxlan> vx = live.vxlan(device);
        if (link.isEmpty() || !link.get().kind().equals("vxlan") || vx.isEmpty()) {
            drift.add(new NetworkDrift.MissingVxlan(device, t.tenant().value()));
            return;
        }
        if (!link.get().master().equals(Optional.of(t.bridgeName()))) {
            drift.add(new NetworkDrift.WrongMaster(device, t.bridgeName(), link.get().master().orElse("")));
        }
        if (!link.get().up()) {
            drift.add(new NetworkDrift.DeviceDown(device));
        }
        for (String detail : vxlanSettingsDiffer(spec.overlay().orElseThrow(), t, vx.get())) {
            drift.add(new NetworkDrift.VxlanDiffers(device, detail));
        }
        Set<String> wantFdb = new java.util.TreeSet<>();
        Set<String> wantNeigh = new java.util.TreeSet<>();
        for (RemotePort r : spec.remotesOf(t.tenant())) {
            wantFdb.add(fdbEntry(r.mac().value(), r.host().toString()));
            wantNeigh.add(neighbourEntry(r.address().toString(), r.mac().value()));
        }
        Set<String> haveFdb = new java.util.TreeSet<>();
        vx.get().fdb().forEach(f -> haveFdb.add(fdbEntry(f.mac(), f.dst())));
        Set<String> haveNeigh = new java.util.TreeSet<>();
        vx.get().neighbours().forEach(n -> haveNeigh.add(neighbourEntry(n.address(), n.mac())));
        compareEntries(device, wantFdb, haveFdb, drift);
        compareEntries(device, wantNeigh, haveNeigh, drift);
    }

    /** What about a live VXLAN device differs from what {@link Overlay} prescribes (empty: nothing). */
    public static List<String> vxlanSettingsDiffer(Overlay overlay, TenantNetwork t, ObservedVxlan vx) {
        List<String> out = new ArrayList<>();
        if (vx.vni() != Overlay.vni(t)) {
            out.add("vni is " + vx.vni() + ", expected " + Overlay.vni(t));
        }
        if (!vx.local().equals(Optional.of(overlay.underlay().toString()))) {
            out.add("local address is " + vx.local().orElse("(none)") + ", expected " + overlay.underlay());
        }
        if (vx.dstport() != Overlay.DSTPORT) {
            out.add("udp port is " + vx.dstport() + ", expected " + Overlay.DSTPORT);
        }
        if (vx.learning()) {
            out.add("learns addresses from the wire, expected nolearning");
        }
        if (!vx.proxy()) {
            out.add("does not answer ARP itself, expected proxy");
        }
        if (vx.mtu() != Overlay.MTU) {
            out.add("mtu is " + vx.mtu() + ", expected " + Overlay.MTU);
        }
        return out;
    }

    public static String fdbEntry(String mac, String dst) {
        return "fdb " + mac + " dst " + dst;
    }

    public static String neighbourEntry(String address, String mac) {
        return "neighbour " + address + " lladdr " + mac;
    }

    private static void compareEntries(String device, Set<String> want, Set<String> have, List<NetworkDrift> drift) {
        for (String w : want) {
            if (!have.contains(w)) {
                drift.add(new NetworkDrift.ForwardingMissing(device, w));
            }
        }
        for (String h : have) {
            if (!want.contains(h)) {
                drift.add(new NetworkDrift.ForwardingExtra(device, h));
            }
        }
    }

    private static void compareTable(NftTable want, NftTable have, List<NetworkDrift> drift) {
        String family = want.family().keyword();
        for (NftChain wantChain : want.chains()) {
            Optional<NftChain> haveChain = have.chain(wantChain.name());
            if (haveChain.isEmpty()) {
                drift.add(new NetworkDrift.ChainDiffers(family, wantChain.name(), "missing"));
                continue;
            }
            if (!haveChain.get().hook().equals(wantChain.hook())) {
                drift.add(new NetworkDrift.ChainDiffers(family, wantChain.name(), "hook is "
                        + haveChain.get().hook().orElse("(none)") + ", expected " + wantChain.hook().orElse("(none)")));
            }
            compareRules(family, wantChain, haveChain.get(), drift);
        }
        for (NftChain haveChain : have.chains()) {
            if (want.chain(haveChain.name()).isEmpty()) {
                drift.add(new NetworkDrift.ChainDiffers(family, haveChain.name(), "not in the desired state"));
            }
        }
    }

    private static void compareRules(String family, NftChain want, NftChain have, List<NetworkDrift> drift) {
        Map<String, Integer> surplus = new HashMap<>();
        have.rules().forEach(r -> surplus.merge(r, 1, Integer::sum));
        boolean differs = false;
        for (String rule : want.rules()) {
            Integer n = surplus.get(rule);
            if (n == null || n == 0) {
                drift.add(new NetworkDrift.RuleMissing(family, want.name(), NftChain.label(rule)));
                differs = true;
            } else {
                surplus.put(rule, n - 1);
            }
        }
        for (String rule : have.rules()) {
            Integer n = surplus.get(rule);
            if (n != null && n > 0) {
                drift.add(new NetworkDrift.RuleExtra(family, want.name(), NftChain.label(rule)));
                surplus.put(rule, n - 1);
                differs = true;
            }
        }
        if (!differs && !want.rules().equals(have.rules())) {
            drift.add(new NetworkDrift.RulesOutOfOrder(family, want.name()));
        }
    }
}
