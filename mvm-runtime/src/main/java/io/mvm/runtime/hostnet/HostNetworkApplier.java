package io.mvm.runtime.hostnet;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.DriftFinder;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.NetworkDrift;
import io.mvm.core.netpolicy.NftRuleset;
import io.mvm.core.netpolicy.ObservedHostNetwork;
import io.mvm.core.netpolicy.ObservedLink;
import io.mvm.core.netpolicy.ObservedVxlan;
import io.mvm.core.netpolicy.Overlay;
import io.mvm.core.netpolicy.RemotePort;
import io.mvm.core.netpolicy.PortKind;
import io.mvm.core.netpolicy.RulesetRenderer;
import io.mvm.core.netpolicy.StandbyPort;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.ErrorCategory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a host's network what a {@link HostNetworkSpec} says, and nothing more: tenant bridges with
 * their first address, instance ports enslaved and up, mvm's nftables tables replaced in one
 * {@code nft -f}, and every device this table owns that the spec no longer has removed. Each step
 * looks at the live state first, so applying twice changes nothing the second time, and applying
 * after drift repairs exactly the drift.
 *
 * <p>Order matters for safety: the rules go in before new ports join a bridge (a port is never on a
 * bridge unfiltered) and leftover devices go after the rules that referred to them.
 */
public final class HostNetworkApplier {
    private static final Logger LOG = LoggerFactory.getLogger(HostNetworkApplier.class);
    private final HostCommands host;
    private final HostNetworkObserver observer;
    // One change at a time: two interleaved applies could each see a device missing and race to
    // create it. (A lock, not synchronized, so a waiting virtual thread does not pin its carrier.)
    private final ReentrantLock changing = new ReentrantLock();
    private final Set<String> underlayChecked = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public HostNetworkApplier(HostCommands host) {
        this.host = host;
        this.observer = new HostNetworkObserver(host);
    }

    public HostNetworkObserver observer() {
        return observer;
    }

    /** Differences between the live host and the spec; empty when the host is exactly as desired. */
    public List<NetworkDrift> verify(HostNetworkSpec spec) {
        return DriftFinder.find(spec, observer.observe(spec.tableName()), observer.desiredTables(RulesetRenderer.render(spec)));
    }

    /** Applies the spec and returns what it changed, in order (empty when nothing needed doing). */
    public List<String> apply(HostNetworkSpec spec) {
        changing.lock();
        try {
            return applyLocked(spec);
        } finally {
            changing.unlock();
        }
    }

    private List<String> applyLocked(HostNetworkSpec spec) {
        List<String> actions = new ArrayList<>();
        String owner = DeviceNames.ownerAlias(spec.tableName());
        Map<String, ObservedLink> live = byName(observer.links());
        requireVethPorts(spec, live);
        refuseForeignOwners(spec, live, owner);

        NftRuleset ruleset = RulesetRenderer.render(spec);
        // Replaced only when it differs, so an unchanged state keeps its counters; when replaced,
        // it is replaced whole, in one transaction.
        if (DriftFinder.find(spec, observer.observe(spec.tableName()), observer.desiredTables(ruleset)).stream()
                .anyMatch(NetworkDrift::inRuleset)) {
            host.runOrFail(List.of("nft", "-f", "-"), ruleset.replaceScript());
            actions.add("replaced nftables tables inet/bridge " + spec.tableName());
        }
        if (spec.tenants().stream().anyMatch(TenantNetwork::egress)) {
            String forwarding = host.runOrFail("sysctl", "-n", "net.ipv4.ip_forward").strip();
            if (!forwarding.equals("1")) {
                host.runOrFail("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
                actions.add("enabled net.ipv4.ip_forward for tenant egress");
            }
        }
        for (TenantNetwork t : spec.tenants()) {
            ensureBridge(t, live.get(t.bridgeName()), owner, actions);
        }
        for (InstancePort p : spec.instances()) {
            String bridge = spec.tenant(p.tenant()).orElseThrow().bridgeName();
            ensurePort(p, bridge, live.get(p.portName()), owner, actions);
        }
        for (StandbyPort p : spec.standby()) {
            ensureStandbyPort(p, live.get(p.portName()), owner, actions);
        }
        if (!spec.overlayTenants().isEmpty()) {
            var observed = observer.observe(spec.tableName());
            warnAboutUnderlayMtu(spec.overlay().orElseThrow());
            for (TenantNetwork t : spec.overlayTenants()) {
                ensureVxlan(spec, t, observed, owner, actions);
            }
        }
        removeLeftovers(spec, byName(observer.links()), owner, actions);
        actions.forEach(a -> LOG.info("host network {}: {}", spec.tableName(), a));
        return List.copyOf(actions);
    }

    /**
     * Removes everything this table owns: its nftables tables and every device carrying its alias.
     * Foreign devices stay, even on an owned bridge (they are detached when the bridge goes).
     */
    public List<String> removeAll(String tableName) {
        changing.lock();
        try {
            return removeAllLocked(tableName);
        } finally {
            changing.unlock();
        }
    }

    private List<String> removeAllLocked(String tableName) {
        List<String> actions = new ArrayList<>();
        host.runOrFail(List.of("nft", "-f", "-"), NftRuleset.deleteScript(tableName));
        actions.add("deleted nftables tables inet/bridge " + tableName);
        String owner = DeviceNames.ownerAlias(tableName);
        List<ObservedLink> owned = observer.links().stream().filter(l -> l.alias().equals(Optional.of(owner))).toList();
        // Ports first, so no port ever forwards on a bridge whose address is already gone.
        for (ObservedLink l : owned.stream().filter(l -> !l.kind().equals("bridge")).toList()) {
            deleteLink(l.name(), actions);
        }
        for (ObservedLink l : owned.stream().filter(l -> l.kind().equals("bridge")).toList()) {
            deleteLink(l.name(), actions);
        }
        return List.copyOf(actions);
    }

    /** A device another mvm table owns is never taken over: two fleets must not share names. */
    private static void refuseForeignOwners(HostNetworkSpec spec, Map<String, ObservedLink> live, String owner) {
        List<String> names = new ArrayList<>();
        spec.tenants().forEach(t -> names.add(t.bridgeName()));
        spec.instances().forEach(p -> names.add(p.portName()));
        spec.standby().forEach(p -> names.add(p.portName()));
        spec.overlayTenants().forEach(t -> names.add(Overlay.device(t)));
        for (String name : names) {
            Optional<String> alias = Optional.ofNullable(live.get(name)).flatMap(ObservedLink::alias);
            if (alias.filter(a -> a.startsWith(DeviceNames.ownerAlias("")) && !a.equals(owner)).isPresent()) {
                throw new HostNetworkException(ErrorCategory.CONFLICT, "device " + name + " belongs to "
                        + alias.get() + ", not to " + owner + "; use another table name or net id");
            }
        }
    }

    private void requireVethPorts(HostNetworkSpec spec, Map<String, ObservedLink> live) {
        for (InstancePort p : spec.instances()) {
            if (p.kind() == PortKind.VETH && !live.containsKey(p.portName())) {
                throw new HostNetworkException(ErrorCategory.FAILED_PRECONDITION, "veth port " + p.portName()
                        + " of instance " + p.instance() + " does not exist; whoever owns its peer must create it");
            }
        }
    }

    private void ensureBridge(TenantNetwork t, ObservedLink link, String owner, List<String> actions) {
        String name = t.bridgeName();
        if (link == null) {
            host.runOrFail("ip", "link", "add", "name", name, "type", "bridge");
            actions.add("created bridge " + name + " for tenant " + t.tenant());
            link = new ObservedLink(name, "bridge", Optional.empty(), false, Optional.empty(), Optional.empty(), List.of());
        } else if (!link.kind().equals("bridge")) {
            throw new HostNetworkException(ErrorCategory.CONFLICT, "device " + name + " exists but is a "
                    + (link.kind().isEmpty() ? "plain device" : link.kind()) + ", not tenant " + t.tenant() + "'s bridge");
        }
        if (!link.alias().equals(Optional.of(owner))) {
            host.runOrFail("ip", "link", "set", "dev", name, "alias", owner);
        }
        if (!link.ipv4().equals(List.of(t.bridgeCidr()))) {
            host.runOrFail("ip", "-4", "addr", "flush", "dev", name);
            host.runOrFail("ip", "addr", "add", t.bridgeCidr(), "dev", name);
            actions.add("set address " + t.bridgeCidr() + " on " + name + " (was " + link.ipv4() + ")");
        }
        if (!link.up()) {
            host.runOrFail("ip", "link", "set", "dev", name, "up");
            actions.add("brought " + name + " up");
        }
    }

    private void ensurePort(InstancePort p, String bridge, ObservedLink link, String owner, List<String> actions) {
        String name = p.portName();
        if (link == null) {
            // Persistent, owned by root here; the QEMU runtime re-creates it owned by the VM's own user
            // before the VMM attaches to it by name (VmmJail.handTap: only its owner may attach).
            host.runOrFail("ip", "tuntap", "add", "dev", name, "mode", "tap");
            actions.add("created tap " + name + " for instance " + p.instance());
            link = new ObservedLink(name, "tun", Optional.empty(), false, Optional.empty(), Optional.empty(), List.of());
        }
        if (!link.alias().equals(Optional.of(owner))) {
            host.runOrFail("ip", "link", "set", "dev", name, "alias", owner);
        }
        if (!link.master().equals(Optional.of(bridge))) {
            host.runOrFail("ip", "link", "set", "dev", name, "master", bridge);
            actions.add("attached " + name + " to " + bridge);
        }
        if (!link.up()) {
            host.runOrFail("ip", "link", "set", "dev", name, "up");
            actions.add("brought " + name + " up");
        }
    }

    /**
     * A tenant's VXLAN device: created with the VNI, local address and port {@link Overlay}
     * prescribes, {@code nolearning} (forwarding comes from the coordinator, never from the wire)
     * and {@code proxy} (ARP for remote instances is answered here from the neighbour entries, so
     * no broadcast ever crosses the underlay); recreated when one of those differs (they cannot be
     * changed in place); then enslaved, up, and its FDB and neighbour entries made exactly the
     * remote instances' — stale entries (an instance that moved or went) removed first.
     */
    private void ensureVxlan(HostNetworkSpec spec, TenantNetwork t, ObservedHostNetwork observed, String owner,
                             List<String> actions) {
        Overlay overlay = spec.overlay().orElseThrow();
        String name = Overlay.device(t);
        Optional<ObservedLink> link = observed.link(name);
        Optional<ObservedVxlan> vx = observed.vxlan(name);
        if (link.isPresent() && !link.get().kind().equals("vxlan")) {
            throw new HostNetworkException(ErrorCategory.CONFLICT, "device " + name + " exists but is a "
                    + (link.get().kind().isEmpty() ? "plain device" : link.get().kind()) + ", not tenant " + t.tenant()
                    + "'s vxlan device");
        }
        if (vx.isPresent()) {
            List<String> differs = DriftFinder.vxlanSettingsDiffer(overlay, t, vx.get()).stream()
                    .filter(d -> !d.startsWith("mtu")).toList();
            if (!differs.isEmpty()) {
                deleteLink(name, actions);
                actions.add("recreating vxlan device " + name + ": " + String.join(", ", differs));
                link = Optional.empty();
                vx = Optional.empty();
            }
        }
        if (link.isEmpty()) {
            host.runOrFail("ip", "link", "add", "name", name, "type", "vxlan", "id", Integer.toString(Overlay.vni(t)),
                    "local", overlay.underlay().toString(), "dstport", Integer.toString(Overlay.DSTPORT),
                    "nolearning", "proxy");
            actions.add("created vxlan device " + name + " (vni " + Overlay.vni(t) + ") for tenant " + t.tenant());
            link = Optional.of(new ObservedLink(name, "vxlan", Optional.empty(), false, Optional.empty(),
                    Optional.empty(), List.of()));
        }
        if (vx.map(v -> v.mtu() != Overlay.MTU).orElse(true)) {
            // Without a lower device the kernel picks 1450; the bridge would then take the smallest
            // MTU of its ports and drop the guests' full-size frames.
            host.runOrFail("ip", "link", "set", "dev", name, "mtu", Integer.toString(Overlay.MTU));
        }
        if (!link.get().alias().equals(Optional.of(owner))) {
            host.runOrFail("ip", "link", "set", "dev", name, "alias", owner);
        }
        if (!link.get().master().equals(Optional.of(t.bridgeName()))) {
            host.runOrFail("ip", "link", "set", "dev", name, "master", t.bridgeName());
            actions.add("attached " + name + " to " + t.bridgeName());
        }
        if (!link.get().up()) {
            host.runOrFail("ip", "link", "set", "dev", name, "up");
            actions.add("brought " + name + " up");
        }
        Map<String, String> wantFdb = new java.util.TreeMap<>();
        Map<String, String> wantNeigh = new java.util.TreeMap<>();
        for (RemotePort r : spec.remotesOf(t.tenant())) {
            wantFdb.put(r.mac().value(), r.host().toString());
            wantNeigh.put(r.address().toString(), r.mac().value());
        }
        List<ObservedVxlan.Fdb> haveFdb = vx.map(ObservedVxlan::fdb).orElse(List.of());
        List<ObservedVxlan.Neighbour> haveNeigh = vx.map(ObservedVxlan::neighbours).orElse(List.of());
        for (ObservedVxlan.Fdb f : haveFdb) {
            if (!f.dst().equals(wantFdb.get(f.mac()))) {
                host.runOrFail("bridge", "fdb", "del", f.mac(), "dev", name, "dst", f.dst(), "self");
                actions.add("removed " + DriftFinder.fdbEntry(f.mac(), f.dst()) + " from " + name);
            }
        }
        for (ObservedVxlan.Neighbour n : haveNeigh) {
            if (!n.mac().equals(wantNeigh.get(n.address()))) {
                host.runOrFail("ip", "neigh", "del", n.address(), "dev", name);
                actions.add("removed " + DriftFinder.neighbourEntry(n.address(), n.mac()) + " from " + name);
            }
        }
        // An instance that moved here was learnt behind the vxlan port while it ran elsewhere: the
        // bridge would keep sending its frames to the old host until it speaks. Forget that now.
        for (InstancePort p : spec.instancesOf(t.tenant())) {
            if (vx.map(v -> v.learnt().contains(p.mac().value())).orElse(false)) {
                host.run(List.of("bridge", "fdb", "del", p.mac().value(), "dev", name, "master"), "");
                actions.add("forgot " + p.mac() + " learnt behind " + name + " (instance " + p.instance() + " is here)");
            }
        }
        for (var e : wantFdb.entrySet()) {
            if (!haveFdb.contains(new ObservedVxlan.Fdb(e.getKey(), e.getValue()))) {
                host.runOrFail("bridge", "fdb", "replace", e.getKey(), "dev", name, "dst", e.getValue(), "self",
                        "permanent");
                actions.add("added " + DriftFinder.fdbEntry(e.getKey(), e.getValue()) + " to " + name);
            }
        }
        for (var e : wantNeigh.entrySet()) {
            if (!haveNeigh.contains(new ObservedVxlan.Neighbour(e.getKey(), e.getValue()))) {
                host.runOrFail("ip", "neigh", "replace", e.getKey(), "lladdr", e.getValue(), "dev", name, "nud",
                        "permanent");
                actions.add("added " + DriftFinder.neighbourEntry(e.getKey(), e.getValue()) + " to " + name);
            }
        }
    }

    /**
     * The underlay must carry a full guest frame plus the VXLAN overhead (docs/networking.md, MTU);
     * on a smaller one the kernel fragments the outer packets, which works but costs. Said once per
     * address, not refused: the host may be right and the check wrong (a route over another device).
     */
    private void warnAboutUnderlayMtu(Overlay overlay) {
        String address = overlay.underlay().toString();
        if (!underlayChecked.add(address)) {
            return;
        }
        HostCommands.CommandResult r = host.run(List.of("ip", "-4", "-j", "addr", "show", "to", address + "/32"), "");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"mtu\":(\\d+)").matcher(r.stdout());
        if (!r.ok() || !m.find()) {
            LOG.warn("underlay address {} is on no device of this host: vxlan traffic cannot flow", address);
        } else if (Integer.parseInt(m.group(1)) < Overlay.UNDERLAY_MTU) {
            LOG.warn("underlay device of {} has mtu {}, below {}: full-size guest packets are fragmented on the"
                    + " underlay", address, m.group(1), Overlay.UNDERLAY_MTU);
        }
    }

    /** A warm VM's tap: exists (QEMU attaches to it), carries our alias, and is on no bridge. */
    private void ensureStandbyPort(StandbyPort p, ObservedLink link, String owner, List<String> actions) {
        String name = p.portName();
        if (link == null) {
            host.runOrFail("ip", "tuntap", "add", "dev", name, "mode", "tap");
            actions.add("created standby tap " + name + " for instance " + p.instance());
            link = new ObservedLink(name, "tun", Optional.empty(), false, Optional.empty(), Optional.empty(), List.of());
        }
        if (!link.alias().equals(Optional.of(owner))) {
            host.runOrFail("ip", "link", "set", "dev", name, "alias", owner);
        }
        if (link.master().isPresent()) {
            host.runOrFail("ip", "link", "set", "dev", name, "nomaster");
            actions.add("detached standby tap " + name + " from " + link.master().get());
        }
        if (!link.up()) {
            host.runOrFail("ip", "link", "set", "dev", name, "up");
        }
    }

    private void removeLeftovers(HostNetworkSpec spec, Map<String, ObservedLink> live, String owner, List<String> actions) {
        Set<String> bridges = spec.tenants().stream().map(TenantNetwork::bridgeName).collect(Collectors.toSet());
        Set<String> ports = spec.instances().stream().map(InstancePort::portName)
                .collect(Collectors.toCollection(HashSet::new));
        spec.standby().forEach(p -> ports.add(p.portName()));
        spec.overlayTenants().forEach(t -> ports.add(Overlay.device(t)));
        Set<String> handled = new HashSet<>();
        for (ObservedLink l : live.values()) {
            if (bridges.contains(l.name()) || ports.contains(l.name())) {
                continue;
            }
            boolean owned = l.alias().equals(Optional.of(owner));
            if (l.master().filter(bridges::contains).isPresent()) {
                if (owned || l.kind().equals("tun")) {
                    deleteLink(l.name(), actions);
                } else {
                    host.runOrFail("ip", "link", "set", "dev", l.name(), "nomaster");
                    actions.add("detached stray port " + l.name() + " from " + l.master().get());
                }
                handled.add(l.name());
            }
        }
        for (ObservedLink l : live.values()) {
            boolean owned = l.alias().equals(Optional.of(owner));
            if (owned && !l.kind().equals("bridge") && !ports.contains(l.name()) && !handled.contains(l.name())) {
                deleteLink(l.name(), actions);
            }
        }
        for (ObservedLink l : live.values()) {
            boolean owned = l.alias().equals(Optional.of(owner));
            if (owned && l.kind().equals("bridge") && !bridges.contains(l.name())) {
                deleteLink(l.name(), actions);
            }
        }
    }

    private void deleteLink(String name, List<String> actions) {
        HostCommands.CommandResult r = host.run(List.of("ip", "link", "del", "dev", name), "");
        // Deleting one end of a veth takes the other with it; "cannot find device" means already gone.
        if (!r.ok() && !r.stderr().contains("Cannot find device")) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot delete " + name + ": " + r.stderr().strip());
        }
        actions.add("deleted " + name);
    }

    private static Map<String, ObservedLink> byName(List<ObservedLink> links) {
        return links.stream().collect(Collectors.toMap(ObservedLink::name, Function.identity(), (a, b) -> a));
    }
}
