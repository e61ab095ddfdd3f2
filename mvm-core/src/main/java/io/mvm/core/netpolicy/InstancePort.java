package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Objects;

/** One instance's place on its tenant's bridge: the port device, its MAC and IPv4 address, its role. */
public record InstancePort(InstanceId instance, TenantId tenant, String portName, MacAddress mac, Ipv4Address address,
        Role role, PortKind kind) {

    public InstancePort {
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(tenant, "tenant");
        DeviceNames.requirePortName(portName);
        Objects.requireNonNull(mac, "mac");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(kind, "kind");
    }

    /** A tap with the name and MAC derived from the instance id: what the agent uses. */
    public static InstancePort tap(InstanceId instance, TenantId tenant, Ipv4Address address, Role role) {
        return new InstancePort(instance, tenant, DeviceNames.tap(instance), MacAddress.forInstance(instance), address,
                role, PortKind.TAP);
    }

    public boolean isGateway() {
        return role == Role.GATEWAY;
    }
}
