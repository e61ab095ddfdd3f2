package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HostNetworkPlanTest {

    static InstanceRecord record(String id, String tenant, String ip, int netId, Role role) {
        return InstanceRecord.of(new InstanceSpec(InstanceId.of(id), TenantId.of(tenant), PoolName.of("p"), role, 1, 256,
                0, new NetworkSpec(ip, 24, ip.substring(0, ip.lastIndexOf('.')) + ".1", Optional.empty(), netId),
                List.of(), Map.of(), Map.of(), Map.of(), "r"));
    }

    @Test
    void oneTenantNetworkPerTenantAndOneTapPerNetworkedInstance() {
        var spec = HostNetworkPlan.of("mvm_x", Optional.empty(), List.of(
                record("a-1", "acme", "10.240.7.10", 7, Role.GATEWAY),
                record("a-2", "acme", "10.240.7.11", 7, Role.WORKER),
                record("b-1", "beta", "10.240.8.10", 8, Role.WORKER)));

        assertThat(spec.tenants()).extracting(t -> t.tenant().value(), t -> t.subnet().toString(), t -> t.bridgeName())
                .containsExactly(org.assertj.core.groups.Tuple.tuple("acme", "10.240.7.0/24", "mvb7"),
                        org.assertj.core.groups.Tuple.tuple("beta", "10.240.8.0/24", "mvb8"));
        assertThat(spec.instances()).extracting(p -> p.portName())
                .containsExactly(DeviceNames.tap(InstanceId.of("a-1")), DeviceNames.tap(InstanceId.of("a-2")),
                        DeviceNames.tap(InstanceId.of("b-1")));
        assertThat(spec.instances().getFirst().isGateway()).isTrue();
        assertThat(spec.tenants()).noneMatch(t -> t.egress());
    }

    @Test
    void instancesWithoutANetworkGetNoPort() {
        var spec = HostNetworkPlan.of("mvm_x", Optional.empty(), List.of(record("a-1", "acme", "10.240.7.10", 0, Role.WORKER)));

        assertThat(spec.tenants()).isEmpty();
        assertThat(spec.instances()).isEmpty();
    }

    @Test
    void oneTenantOnTwoNetworksIsRefused() {
        assertThatThrownBy(() -> HostNetworkPlan.of("mvm_x", Optional.empty(), List.of(
                record("a-1", "acme", "10.240.7.10", 7, Role.WORKER),
                record("a-2", "acme", "10.240.9.10", 9, Role.WORKER))))
                .isInstanceOf(MvmException.class).hasMessageContaining("two networks");
    }

    @Test
    void commandArgumentsStayOneWordEachInTheGuestShell() {
        assertThat(LocalInstanceRuntime.shellCommand(List.of("/bin/serve", "--name", "it's a test", "$HOME")))
                .isEqualTo("'/bin/serve' '--name' 'it'\\''s a test' '$HOME'");
    }
}
