package io.mvm.core.netpolicy;

import static io.mvm.core.netpolicy.SampleSpecs.ACME;
import static io.mvm.core.netpolicy.SampleSpecs.BETA;
import static io.mvm.core.netpolicy.SampleSpecs.port;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HostNetworkSpecTest {

    private static HostNetworkSpec spec(Optional<String> uplink, List<TenantNetwork> tenants, List<InstancePort> ports) {
        return new HostNetworkSpec("mvm", uplink, tenants, ports, List.of());
    }

    @Test
    void aStandbyPortCannotShareAnInstancePortsName() {
        HostNetworkSpec two = SampleSpecs.twoTenants();
        InstancePort taken = two.instances().getFirst();
        assertThatThrownBy(() -> new HostNetworkSpec(two.tableName(), two.uplink(), two.tenants(), two.instances(),
                two.openedServices(), List.of(StandbyPort.of(taken.instance()))))
                .hasMessageContaining("same port name");
    }

    @Test
    void subnetArithmetic() {
        Ipv4Subnet s = Ipv4Subnet.parse("10.240.7.0/24");
        assertThat(s.firstHost()).hasToString("10.240.7.1");
        assertThat(s.broadcast()).hasToString("10.240.7.255");
        assertThat(s.isGuestAddress(Ipv4Address.parse("10.240.7.2"))).isTrue();
        assertThat(s.isGuestAddress(Ipv4Address.parse("10.240.7.1"))).isFalse();
        assertThat(s.isGuestAddress(Ipv4Address.parse("10.240.8.2"))).isFalse();
        assertThat(s.overlaps(Ipv4Subnet.parse("10.240.0.0/16"))).isTrue();
        assertThat(s.overlaps(Ipv4Subnet.parse("10.240.8.0/24"))).isFalse();
        assertThatThrownBy(() -> Ipv4Subnet.parse("10.240.7.1/24")).hasMessageContaining("host bits");
        assertThatThrownBy(() -> Ipv4Address.parse("10.240.7.256")).isInstanceOf(MvmException.class);
        assertThatThrownBy(() -> Ipv4Address.parse("10.240.7")).isInstanceOf(MvmException.class);
    }

    @Test
    void acceptsAndSortsAValidState() {
        HostNetworkSpec s = SampleSpecs.twoTenants();
        assertThat(s.tenants()).extracting(TenantNetwork::tenant).containsExactly(ACME, BETA);
        assertThat(s.instancesOf(ACME)).hasSize(3);
        assertThat(s.withoutTenant(ACME).tenants()).extracting(TenantNetwork::tenant).containsExactly(BETA);
        assertThat(s.withoutTenant(ACME).instances()).hasSize(1);
        assertThat(s.withoutTenant(ACME).openedServices()).hasSize(1);
    }

    @Test
    void refusesOverlappingSubnetsAndSharedNetIds() {
        TenantNetwork overlapping = new TenantNetwork(BETA, 9, Ipv4Subnet.parse("10.240.0.0/16"), false);
        assertThatThrownBy(() -> spec(Optional.empty(), List.of(SampleSpecs.acme(false), overlapping), List.of()))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.CONFLICT))
                .hasMessageContaining("overlapping");
        TenantNetwork sameNet = new TenantNetwork(BETA, 7, Ipv4Subnet.parse("10.240.9.0/24"), false);
        assertThatThrownBy(() -> spec(Optional.empty(), List.of(SampleSpecs.acme(false), sameNet), List.of()))
                .hasMessageContaining("network id 7");
    }

    @Test
    void refusesAddressesOutsideTheTenantOrReserved() {
        List<TenantNetwork> tenants = List.of(SampleSpecs.acme(false), SampleSpecs.beta());
        assertThatThrownBy(() -> spec(Optional.empty(), tenants, List.of(port("a-1", ACME, "10.240.9.5", Role.WORKER))))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT))
                .hasMessageContaining("not a guest address");
        assertThatThrownBy(() -> spec(Optional.empty(), tenants, List.of(port("a-1", ACME, "10.240.7.1", Role.WORKER))))
                .hasMessageContaining("reserved");
        assertThatThrownBy(() -> spec(Optional.empty(), tenants, List.of(
                port("a-1", ACME, "10.240.7.5", Role.WORKER), port("a-2", ACME, "10.240.7.5", Role.WORKER))))
                .hasMessageContaining("same address");
        assertThatThrownBy(() -> spec(Optional.empty(), List.of(SampleSpecs.beta()),
                List.of(port("a-1", ACME, "10.240.7.5", Role.WORKER))))
                .hasMessageContaining("no network on this host");
    }

    @Test
    void refusesEgressWithoutUplinkAndBadTableNames() {
        assertThatThrownBy(() -> spec(Optional.empty(), List.of(SampleSpecs.acme(true)), List.of()))
                .hasMessageContaining("no uplink");
        assertThatThrownBy(() -> HostNetworkSpec.empty("mvm; flush ruleset")).isInstanceOf(MvmException.class);
        assertThatThrownBy(() -> new TenantNetwork(ACME, 1, Ipv4Subnet.parse("10.0.0.0/30"), false))
                .hasMessageContaining("/29");
    }
}
