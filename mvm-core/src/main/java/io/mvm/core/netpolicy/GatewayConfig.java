package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;

/**
 * Renders {@code /etc/mvm-config/gateway.json} for a tenant's gateway instance. The guest applies
 * it with a busybox shell script (no JSON parser in the guest), so the layout is fixed: one key
 * per line and one route object per line. See docs/networking.md for the format.
 */
public final class GatewayConfig {
    public static final int FORMAT_VERSION = 1;

    private GatewayConfig() {}

    public static String render(HostNetworkSpec spec, InstanceId gateway) {
        InstancePort port = spec.instances().stream().filter(p -> p.instance().equals(gateway)).findFirst()
                .orElseThrow(() -> MvmException.notFound("instance " + gateway + " has no port on this host"));
        if (!port.isGateway()) {
            throw MvmException.precondition("instance " + gateway + " has role " + port.role().wireName()
                    + "; only a gateway gets gateway.json");
        }
        TenantNetwork tenant = spec.tenant(port.tenant()).orElseThrow();
        StringBuilder out = new StringBuilder();
        out.append("{\n");
        out.append("  \"version\": ").append(FORMAT_VERSION).append(",\n");
        out.append("  \"tenant\": \"").append(tenant.tenant()).append("\",\n");
        out.append("  \"instance\": \"").append(gateway).append("\",\n");
        out.append("  \"address\": \"").append(port.address()).append('/').append(tenant.subnet().prefixLength())
                .append("\",\n");
        out.append("  \"subnet\": \"").append(tenant.subnet()).append("\",\n");
        out.append("  \"default_gateway\": \"").append(tenant.bridgeAddress()).append("\",\n");
        out.append("  \"ip_forward\": true,\n");
        out.append("  \"routes\": [");
        for (int i = 0; i < tenant.gatewayRoutes().size(); i++) {
            GatewayRoute r = tenant.gatewayRoutes().get(i);
            out.append(i == 0 ? "\n" : ",\n");
            out.append("    {\"destination\": \"").append(r.destination()).append("\", \"via\": \"").append(r.via())
                    .append("\"}");
        }
        out.append(tenant.gatewayRoutes().isEmpty() ? "]\n" : "\n  ]\n");
        out.append("}\n");
        return out.toString();
    }
}
