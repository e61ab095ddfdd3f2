package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import java.util.Objects;

/**
 * The tap of a warm VM that belongs to no tenant yet: on no bridge, with no address on either end,
 * and every packet it sends to the host dropped (inet input and forward), so the VM reaches nothing
 * while it waits. When the VM is claimed, the same tap (same name, same MAC: both derive from the
 * instance id) becomes an {@link InstancePort} on the claiming tenant's bridge.
 */
public record StandbyPort(InstanceId instance, String portName, MacAddress mac) {
    public StandbyPort {
        Objects.requireNonNull(instance, "instance");
        DeviceNames.requirePortName(portName);
        Objects.requireNonNull(mac, "mac");
    }

    public static StandbyPort of(InstanceId instance) {
        return new StandbyPort(instance, DeviceNames.tap(instance), MacAddress.forInstance(instance));
    }
}
