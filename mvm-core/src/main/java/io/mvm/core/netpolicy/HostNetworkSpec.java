package io.mvm.core.netpolicy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The desired network state of one host: which tenants have a bridge here, which instances have a
 * port on it, the uplink egress leaves through, and the host services guests may reach. The
 * constructor checks everything that would otherwise surface as a half-applied host (overlapping
 * subnets, an address outside its subnet, two ports with one name), so an invalid state is refused
 * before any device or rule is touched.
 *
 * <p>{@code tableName} names mvm's nftables tables (one per family, see {@link RulesetRenderer}) and
 * marks the devices this state owns; tests pass a unique name so they never touch a real fleet.
 *
 * <p>{@code overlay} (this host's underlay address) and {@code remotes} (instances of this host's
 * tenants that run on other hosts) join tenant networks across hosts over VXLAN; a tenant with at
 * least one remote instance gets a VXLAN device on its bridge (docs/networking.md, "Across hosts").
 */
public record HostNetworkSpec(String tableName, Optional<String> uplink, List<TenantNetwork> tenants,
        List<InstancePort> instances, List<OpenedService> openedServices, List<StandbyPort> standby,
        Optional<Overlay> overlay, List<RemotePort> remotes) {

    public static final String DEFAULT_TABLE = "mvm";
    private static final Pattern TABLE_NAME = Pattern.compile("[a-z][a-z0-9_]{0,31}");

    public HostNetworkSpec {
        if (tableName == null || !TABLE_NAME.matcher(tableName).matches()) {
            throw MvmException.invalid("invalid nftables table name '" + tableName
                    + "': use 1-32 lower-case letters, digits or '_', starting with a letter");
        }
        Objects.requireNonNull(uplink, "uplink");
        uplink.ifPresent(u -> DeviceNames.requireValid(u, "uplink"));
        tenants = tenants.stream().sorted(Comparator.comparing(TenantNetwork::tenant)).toList();
        instances = instances.stream().sorted(Comparator.comparing(InstancePort::instance)).toList();
        openedServices = List.copyOf(openedServices);
        standby = standby.stream().sorted(Comparator.comparing(StandbyPort::instance)).toList();
        Objects.requireNonNull(overlay, "overlay");
        remotes = remotes.stream().sorted(Comparator.comparing(RemotePort::instance)).toList();
        validate(tableName, uplink, tenants, instances, openedServices);
        validateStandby(instances, standby);
        validateRemotes(overlay, tenants, instances, remotes);
    }

    /** A host that joins no tenant network across hosts. */
    public HostNetworkSpec(String tableName, Optional<String> uplink, List<TenantNetwork> tenants,
                           List<InstancePort> instances, List<OpenedService> openedServices, List<StandbyPort> standby) {
        this(tableName, uplink, tenants, instances, openedServices, standby, Optional.empty(), List.of());
    }

    /** A host without warm VMs standing by. */
    public HostNetworkSpec(String tableName, Optional<String> uplink, List<TenantNetwork> tenants,
                           List<InstancePort> instances, List<OpenedService> openedServices) {
        this(tableName, uplink, tenants, instances, openedServices, List.of());
    }

    private static void validateStandby(List<InstancePort> instances, List<StandbyPort> standby) {
        Map<String, InstanceId> names = new HashMap<>();
        instances.forEach(p -> names.put(p.portName(), p.instance()));
        for (StandbyPort s : standby) {
            claim(names, s.portName(), s.instance(), "port name");
            if (s.portName().startsWith(DeviceNames.BRIDGE_PREFIX)) {
                throw MvmException.invalid("standby instance " + s.instance() + ": port name " + s.portName()
                        + " is reserved for a bridge");
            }
        }
    }

    public static HostNetworkSpec empty(String tableName) {
        return new HostNetworkSpec(tableName, Optional.empty(), List.of(), List.of(), List.of(), List.of());
    }

    /** The remote instances of one tenant (empty for a tenant that runs on this host alone). */
    public List<RemotePort> remotesOf(TenantId tenant) {
        return remotes.stream().filter(r -> r.tenant().equals(tenant)).toList();
    }

    /** Tenants that need a VXLAN device here: those with an instance on another host. */
    public List<TenantNetwork> overlayTenants() {
        return tenants.stream().filter(t -> remotes.stream().anyMatch(r -> r.tenant().equals(t.tenant()))).toList();
    }

    /** The hosts (underlay addresses) that run instances of one tenant, sorted. */
    public List<Ipv4Address> peersOf(TenantId tenant) {
        return remotesOf(tenant).stream().map(RemotePort::host).distinct().sorted().toList();
    }

    private static void validateRemotes(Optional<Overlay> overlay, List<TenantNetwork> tenants,
                                        List<InstancePort> instances, List<RemotePort> remotes) {
        if (remotes.isEmpty()) {
            return;
        }
        if (overlay.isEmpty()) {
            throw MvmException.invalid("remote instances need this host's underlay address (--underlay-address)");
        }
        Map<InstanceId, Object> seen = new HashMap<>();
        instances.forEach(p -> seen.put(p.instance(), p));
        Map<MacAddress, InstanceId> macs = new HashMap<>();
        instances.forEach(p -> macs.put(p.mac(), p.instance()));
        Map<String, InstanceId> addresses = new HashMap<>();
        instances.forEach(p -> addresses.put(p.tenant() + "/" + p.address(), p.instance()));
        for (RemotePort r : remotes) {
            TenantNetwork t = tenants.stream().filter(n -> n.tenant().equals(r.tenant())).findFirst()
                    .orElseThrow(() -> MvmException.invalid("remote instance " + r.instance() + " belongs to tenant "
                            + r.tenant() + ", which has no network on this host"));
            Overlay.vni(t);
            if (seen.put(r.instance(), r) != null) {
                throw conflict("instance " + r.instance() + " is both here and on host " + r.host()
                        + " (or on two hosts)");
            }
            if (!t.subnet().isGuestAddress(r.address())) {
                throw MvmException.invalid("remote instance " + r.instance() + ": address " + r.address()
                        + " is not a guest address of tenant " + r.tenant() + "'s subnet " + t.subnet());
            }
            if (r.host().equals(overlay.get().underlay())) {
                throw MvmException.invalid("remote instance " + r.instance() + " is on host " + r.host()
                        + ", which is this host's own underlay address");
            }
            claim(macs, r.mac(), r.instance(), "MAC");
            claim(addresses, r.tenant() + "/" + r.address(), r.instance(), "address");
        }
    }

    public Optional<TenantNetwork> tenant(TenantId tenant) {
        return tenants.stream().filter(t -> t.tenant().equals(tenant)).findFirst();
    }

    public List<InstancePort> instancesOf(TenantId tenant) {
        return instances.stream().filter(i -> i.tenant().equals(tenant)).toList();
    }

    /** The same host with one tenant, its instances and its opened services gone. */
    public HostNetworkSpec withoutTenant(TenantId tenant) {
        return new HostNetworkSpec(tableName, uplink,
                tenants.stream().filter(t -> !t.tenant().equals(tenant)).toList(),
                instances.stream().filter(i -> !i.tenant().equals(tenant)).toList(),
                openedServices.stream().filter(s -> s.tenant().map(t -> !t.equals(tenant)).orElse(true)).toList(),
                standby, overlay, remotes.stream().filter(r -> !r.tenant().equals(tenant)).toList());
    }

    private static void validate(String table, Optional<String> uplink, List<TenantNetwork> tenants,
            List<InstancePort> instances, List<OpenedService> services) {
        Map<TenantId, TenantNetwork> byTenant = new HashMap<>();
        Map<Integer, TenantId> netIds = new HashMap<>();
        for (TenantNetwork t : tenants) {
            if (byTenant.put(t.tenant(), t) != null) {
                throw MvmException.invalid("tenant " + t.tenant() + " appears twice in the host network state");
            }
            TenantId sameNet = netIds.put(t.netId(), t.tenant());
            if (sameNet != null) {
                throw conflict("tenants " + sameNet + " and " + t.tenant() + " share network id " + t.netId());
            }
            if (t.egress() && uplink.isEmpty()) {
                throw MvmException.invalid("tenant " + t.tenant() + " has egress enabled but the host has no uplink");
            }
            if (uplink.isPresent() && uplink.get().equals(t.bridgeName())) {
                throw MvmException.invalid("uplink " + uplink.get() + " cannot be a tenant bridge");
            }
        }
        for (int i = 0; i < tenants.size(); i++) {
            for (int j = i + 1; j < tenants.size(); j++) {
                TenantNetwork a = tenants.get(i);
                TenantNetwork b = tenants.get(j);
                if (a.subnet().overlaps(b.subnet())) {
                    throw conflict("tenants " + a.tenant() + " (" + a.subnet() + ") and " + b.tenant() + " ("
                            + b.subnet() + ") have overlapping subnets");
                }
            }
        }
        Map<InstanceId, InstancePort> byInstance = new HashMap<>();
        Map<String, InstanceId> ports = new HashMap<>();
        Map<MacAddress, InstanceId> macs = new HashMap<>();
        Map<Ipv4Address, InstanceId> addresses = new HashMap<>();
        for (InstancePort p : instances) {
            TenantNetwork t = byTenant.get(p.tenant());
            if (t == null) {
                throw MvmException.invalid("instance " + p.instance() + " belongs to tenant " + p.tenant()
                        + ", which has no network on this host");
            }
            if (!t.subnet().isGuestAddress(p.address())) {
                throw MvmException.invalid("instance " + p.instance() + ": address " + p.address()
                        + " is not a guest address of tenant " + p.tenant() + "'s subnet " + t.subnet()
                        + " (the network, bridge " + t.bridgeAddress() + " and broadcast addresses are reserved)");
            }
            if (byInstance.put(p.instance(), p) != null) {
                throw MvmException.invalid("instance " + p.instance() + " appears twice in the host network state");
            }
            claim(ports, p.portName(), p.instance(), "port name");
            claim(macs, p.mac(), p.instance(), "MAC");
            claim(addresses, p.address(), p.instance(), "address");
            if (p.portName().startsWith(DeviceNames.BRIDGE_PREFIX) || uplink.map(p.portName()::equals).orElse(false)) {
                throw MvmException.invalid("instance " + p.instance() + ": port name " + p.portName()
                        + " is reserved for a bridge or the uplink");
            }
        }
        for (OpenedService s : services) {
            s.tenant().ifPresent(t -> {
                if (!byTenant.containsKey(t)) {
                    throw MvmException.invalid("opened service " + s.transport().nftName() + "/" + s.port()
                            + " names tenant " + t + ", which has no network on this host");
                }
            });
        }
        Objects.requireNonNull(table);
    }

    private static <K> void claim(Map<K, InstanceId> claimed, K key, InstanceId instance, String what) {
        InstanceId other = claimed.put(key, instance);
        if (other != null) {
            throw conflict("instances " + other + " and " + instance + " have the same " + what + " " + key);
        }
    }

    private static MvmException conflict(String message) {
        return new MvmException(ErrorCategory.CONFLICT, message);
    }
}
