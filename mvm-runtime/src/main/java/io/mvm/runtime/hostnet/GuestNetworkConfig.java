package io.mvm.runtime.hostnet;

import io.mvm.core.netpolicy.GatewayConfig;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.NicSpec;
import java.util.Optional;

/**
 * What an instance's VM needs from the host network: its NIC (the tap the applier made, its MAC,
 * and the address and default gateway the guest configures from {@code mvm.ip}/{@code mvm.gw}),
 * and for a gateway the contents of {@code /etc/mvm-config/gateway.json}.
 */
public final class GuestNetworkConfig {
    private GuestNetworkConfig() {}

    public static NicSpec nic(HostNetworkSpec spec, InstanceId instance) {
        InstancePort port = port(spec, instance);
        TenantNetwork tenant = spec.tenant(port.tenant()).orElseThrow();
        return new NicSpec(port.portName(), port.mac().value(), port.address().toString(),
                tenant.subnet().prefixLength(), tenant.bridgeAddress().toString());
    }

    /** gateway.json for a gateway instance, empty for any other role. */
    public static Optional<String> gatewayJson(HostNetworkSpec spec, InstanceId instance) {
        InstancePort port = port(spec, instance);
        return port.isGateway() ? Optional.of(GatewayConfig.render(spec, instance)) : Optional.empty();
    }

    private static InstancePort port(HostNetworkSpec spec, InstanceId instance) {
        return spec.instances().stream().filter(p -> p.instance().equals(instance)).findFirst()
                .orElseThrow(() -> MvmException.notFound("instance " + instance + " has no port in the host network state"));
    }
}
