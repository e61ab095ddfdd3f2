package io.mvm.runtime.hostnet;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.DriftFinder;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.NetworkDrift;
import io.mvm.core.netpolicy.NftRuleset;
import io.mvm.core.netpolicy.ObservedLink;
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
