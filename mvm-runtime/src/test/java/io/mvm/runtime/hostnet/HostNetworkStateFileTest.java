package io.mvm.runtime.hostnet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.GatewayRoute;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.core.netpolicy.OpenedService;
import io.mvm.core.netpolicy.PortKind;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostNetworkStateFileTest {

    private static HostNetworkSpec sample() {
        TenantId acme = TenantId.of("acme");
        return new HostNetworkSpec("mvm_x", Optional.of("eth0"),
                List.of(new TenantNetwork(acme, 3, Ipv4Subnet.parse("10.1.3.0/24"), true,
                        List.of(new GatewayRoute(Ipv4Subnet.parse("172.16.0.0/16"), Ipv4Address.parse("10.1.3.1"))))),
                List.of(InstancePort.tap(InstanceId.of("gw"), acme, Ipv4Address.parse("10.1.3.2"), Role.GATEWAY),
                        new InstancePort(InstanceId.of("w"), acme, "mvtw", MacAddress.parse("02:00:00:00:00:07"),
                                Ipv4Address.parse("10.1.3.3"), Role.WORKER, PortKind.VETH)),
                List.of(new OpenedService(OpenedService.Transport.UDP, 53, Optional.empty())));
    }

    @Test
    void roundTripsThroughAnAtomicallyWrittenFile(@TempDir Path dir) {
        Path file = HostNetworkStateFile.defaultPath(dir);
        HostNetworkStateFile.write(file, sample());
        assertThat(HostNetworkStateFile.read(file)).isEqualTo(sample());
        assertThat(file.resolveSibling(file.getFileName() + ".tmp")).doesNotExist();
    }

    @Test
    void roundTripsAnAgentsStateWithStandbyTapsUnderlayAndRemoteInstances(@TempDir Path dir) {
        HostNetworkSpec base = sample();
        HostNetworkSpec spec = new HostNetworkSpec(base.tableName(), base.uplink(), base.tenants(), base.instances(),
                base.openedServices(), List.of(io.mvm.core.netpolicy.StandbyPort.of(InstanceId.of("warm-1"))),
                Optional.of(new io.mvm.core.netpolicy.Overlay(Ipv4Address.parse("192.168.50.1"))),
                List.of(new io.mvm.core.netpolicy.RemotePort(InstanceId.of("r1"), TenantId.of("acme"),
                        MacAddress.forInstance(InstanceId.of("r1")), Ipv4Address.parse("10.1.3.9"),
                        Ipv4Address.parse("192.168.50.2"))));
        Path file = HostNetworkStateFile.defaultPath(dir);
        HostNetworkStateFile.write(file, spec);
        assertThat(HostNetworkStateFile.read(file)).isEqualTo(spec);
    }

    @Test
    void guestNetworkConfigGivesTheNicAndGatewayJson() {
        io.mvm.runtime.backend.NicSpec nic = GuestNetworkConfig.nic(sample(), InstanceId.of("gw"));
        assertThat(nic.tap()).isEqualTo(DeviceNames.tap(InstanceId.of("gw")));
        assertThat(nic.mac()).isEqualTo(MacAddress.forInstance(InstanceId.of("gw")).value());
        assertThat(nic.cidr()).isEqualTo("10.1.3.2/24");
        assertThat(nic.gateway()).isEqualTo("10.1.3.1");
        assertThat(GuestNetworkConfig.gatewayJson(sample(), InstanceId.of("gw"))).get().asString()
                .contains("\"destination\": \"172.16.0.0/16\"");
        assertThat(GuestNetworkConfig.gatewayJson(sample(), InstanceId.of("w"))).isEmpty();
        assertThatThrownBy(() -> GuestNetworkConfig.nic(sample(), InstanceId.of("nope"))).isInstanceOf(MvmException.class);
    }

    @Test
    void derivesPortNameMacAndKindWhenOmitted() {
        HostNetworkSpec spec = HostNetworkStateFile.parse("""
                {"tenants": [{"tenant": "a", "net_id": 1, "subnet": "10.2.0.0/24"}],
                 "instances": [{"instance": "i-1", "tenant": "a", "address": "10.2.0.9"}]}
                """, "test");
        InstancePort p = spec.instances().getFirst();
        assertThat(spec.tableName()).isEqualTo("mvm");
        assertThat(p.portName()).isEqualTo(DeviceNames.tap(InstanceId.of("i-1")));
        assertThat(p.mac()).isEqualTo(MacAddress.forInstance(InstanceId.of("i-1")));
        assertThat(p.kind()).isEqualTo(PortKind.TAP);
        assertThat(p.role()).isEqualTo(Role.WORKER);
    }

    @Test
    void refusesMalformedDocumentsClearly(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> HostNetworkStateFile.parse("{", "f.json")).isInstanceOf(MvmException.class)
                .hasMessageStartingWith("f.json is not valid JSON");
        assertThatThrownBy(() -> HostNetworkStateFile.parse("{\"version\": 2}", "f.json")).hasMessageContaining("version 2");
        assertThatThrownBy(() -> HostNetworkStateFile.parse("{\"tenants\": [{\"tenant\": \"a\", \"subnet\": \"10.0.0.0/24\"}]}",
                "f.json")).hasMessageContaining("net_id");
        assertThatThrownBy(() -> HostNetworkStateFile.read(dir.resolve("none.json"))).hasMessageContaining("nothing applied yet");
        Files.writeString(dir.resolve("x.json"), "[]");
        assertThatThrownBy(() -> HostNetworkStateFile.read(dir.resolve("x.json"))).hasMessageContaining("expected a JSON object");
    }
}
