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

    private static io.mvm.core.netpolicy.OverlayPeers.Peer peer(String id, String tenant, int netId, String ip,
                                                               String underlay) {
        InstanceId instance = InstanceId.of(id);
        return new io.mvm.core.netpolicy.OverlayPeers.Peer(instance, TenantId.of(tenant), netId,
                io.mvm.core.netpolicy.MacAddress.forInstance(instance), io.mvm.core.netpolicy.Ipv4Address.parse(ip),
                io.mvm.model.NodeId.of("other"), io.mvm.core.netpolicy.Ipv4Address.parse(underlay));
    }

    @Test
    void peersBecomeRemotePortsOfLocalTenantsOnlyAndOnlyWithAnOverlay() {
        var records = List.of(record("a-1", "acme", "10.240.7.10", 7, Role.WORKER),
                record("a-2", "acme", "10.240.7.11", 7, Role.WORKER));
        var peers = List.of(
                peer("a-3", "acme", 7, "10.240.7.12", "192.168.50.2"),
                peer("a-2", "acme", 7, "10.240.7.11", "192.168.50.2"),  // still kept here: a move in progress
                peer("b-1", "beta", 8, "10.240.8.10", "192.168.50.2"),  // beta does not run here
                peer("a-9", "acme", 9, "10.240.9.10", "192.168.50.2")); // another network than acme's here
        var overlay = Optional.of(new io.mvm.core.netpolicy.Overlay(io.mvm.core.netpolicy.Ipv4Address.parse("192.168.50.1")));

        var spec = HostNetworkPlan.of("mvm_x", Optional.empty(), records, overlay, peers);
        assertThat(spec.remotes()).extracting(r -> r.instance().value() + "@" + r.host()).containsExactly("a-3@192.168.50.2");
        assertThat(spec.overlayTenants()).extracting(t -> t.tenant().value()).containsExactly("acme");
        assertThat(HostNetworkPlan.of("mvm_x", Optional.empty(), records, Optional.empty(), peers).remotes()).isEmpty();
    }

    @Test
    void commandArgumentsStayOneWordEachInTheGuestShell() {
        assertThat(LocalInstanceRuntime.shellCommand(List.of("/bin/serve", "--name", "it's a test", "$HOME")))
                .isEqualTo("'/bin/serve' '--name' 'it'\\''s a test' '$HOME'");
    }
}
