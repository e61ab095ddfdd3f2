package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Optional;

/** Desired states of a few shapes, shared by the pure tests and the nft check test. */
final class SampleSpecs {
    static final TenantId ACME = TenantId.of("acme");
    static final TenantId BETA = TenantId.of("beta");

    private SampleSpecs() {}

    static TenantNetwork acme(boolean egress) {
        return new TenantNetwork(ACME, 7, Ipv4Subnet.parse("10.240.7.0/24"), egress,
                List.of(new GatewayRoute(Ipv4Subnet.parse("192.168.70.0/24"), Ipv4Address.parse("10.240.7.1"))));
    }

    static TenantNetwork beta() {
        return new TenantNetwork(BETA, 9, Ipv4Subnet.parse("10.240.9.0/24"), false);
    }

    static InstancePort port(String id, TenantId tenant, String ip, Role role) {
        return InstancePort.tap(InstanceId.of(id), tenant, Ipv4Address.parse(ip), role);
    }

    /** Two tenants; acme has a gateway, two workers and egress; beta one worker; one opened port. */
    static HostNetworkSpec twoTenants() {
        return new HostNetworkSpec("mvm", Optional.of("eth0"), List.of(acme(true), beta()),
                List.of(port("a-gw", ACME, "10.240.7.2", Role.GATEWAY),
                        port("a-1", ACME, "10.240.7.3", Role.WORKER),
                        port("a-2", ACME, "10.240.7.4", Role.WORKER),
                        port("b-1", BETA, "10.240.9.2", Role.WORKER)),
                List.of(new OpenedService(OpenedService.Transport.TCP, 8080, Optional.of(ACME)),
                        new OpenedService(OpenedService.Transport.UDP, 53, Optional.empty())));
    }

    static List<HostNetworkSpec> shapes() {
        return List.of(
                HostNetworkSpec.empty("mvm"),
                new HostNetworkSpec("mvm", Optional.empty(), List.of(beta()), List.of(), List.of()),
                new HostNetworkSpec("mvm", Optional.empty(), List.of(acme(false)),
                        List.of(port("a-1", ACME, "10.240.7.3", Role.WORKER)), List.of()),
                twoTenants(),
                withStandby());
    }

    /** Two tenants and a warm VM standing by for either. */
    static HostNetworkSpec withStandby() {
        HostNetworkSpec two = twoTenants();
        return new HostNetworkSpec(two.tableName(), two.uplink(), two.tenants(), two.instances(),
                two.openedServices(), List.of(StandbyPort.of(io.mvm.model.InstanceId.of("w-1"))));
    }
}
