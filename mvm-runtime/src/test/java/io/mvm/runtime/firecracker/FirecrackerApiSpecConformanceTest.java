package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.runtime.firecracker.FirecrackerCall.BootSource;
import io.mvm.runtime.firecracker.FirecrackerCall.Drive;
import io.mvm.runtime.firecracker.FirecrackerCall.MachineConfiguration;
import io.mvm.runtime.firecracker.FirecrackerCall.MemoryBackend;
import io.mvm.runtime.firecracker.FirecrackerCall.NetworkInterface;
import io.mvm.runtime.firecracker.FirecrackerCall.SnapshotCreateParams;
import io.mvm.runtime.firecracker.FirecrackerCall.SnapshotLoadParams;
import io.mvm.runtime.firecracker.FirecrackerCall.Vsock;
import java.time.Duration;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Protocol proof, not VM proof: every request the client can send (every permitted subtype of
 * {@link FirecrackerCall}) exists in Firecracker's API description with that method, and its body,
 * exactly as the client serialises it, validates against the schema the spec references.
 */
class FirecrackerApiSpecConformanceTest {
    private static final FirecrackerSpec SPEC = FirecrackerSpec.load();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FirecrackerApiClient CLIENT = new FirecrackerApiClient(Path.of("/nonexistent.sock"), Duration.ofSeconds(1));

    /** One representative of every call, with optional fields both set and unset. */
    static Stream<FirecrackerCall> everyCall() {
        return Stream.of(
                new FirecrackerCall.DescribeInstance(),
                new FirecrackerCall.GetVersion(),
                new FirecrackerCall.PutBootSource(new BootSource("/vm/vmlinux", "/img/initramfs.cpio.gz", "console=ttyS0 mvm.hostname=a")),
                new FirecrackerCall.PutBootSource(new BootSource("/vm/vmlinux", null, null)),
                new FirecrackerCall.PutMachineConfig(new MachineConfiguration(2, 256, false, false)),
                new FirecrackerCall.PutMachineConfig(new MachineConfiguration(1, 64, null, null)),
                new FirecrackerCall.PutDrive(new Drive("root", "/img/rootfs.ext4", false, true)),
                new FirecrackerCall.PutDrive(new Drive("data", "/vm/data.ext4", false, false)),
                new FirecrackerCall.PutNetworkInterface(new NetworkInterface("eth0", "mvmtap0", "52:54:00:12:34:56")),
                new FirecrackerCall.PutNetworkInterface(new NetworkInterface("eth0", "mvmtap0", null)),
                new FirecrackerCall.PutVsock(new Vsock(3, "/vm/vsock.sock")),
                new FirecrackerCall.StartInstance(),
                new FirecrackerCall.SendCtrlAltDel(),
                new FirecrackerCall.PauseVm(),
                new FirecrackerCall.ResumeVm(),
                new FirecrackerCall.CreateSnapshot(new SnapshotCreateParams("Full", "/vm/snapshot.vmstate", "/vm/snapshot.mem")),
                new FirecrackerCall.LoadSnapshot(new SnapshotLoadParams("/vm/snapshot.vmstate", new MemoryBackend("File", "/vm/snapshot.mem"), true)));
    }

    @Test
    void theSpecIsTheOneThisClientWasWrittenAgainst() {
        assertThat(SPEC.version()).isEqualTo("1.17.0-dev");
    }

    @Test
    void everyKindOfCallIsCoveredBelow() {
        Set<Class<?>> covered = everyCall().map(Object::getClass).collect(Collectors.toSet());
        assertThat(covered).containsExactlyInAnyOrderElementsOf(Arrays.asList(FirecrackerCall.class.getPermittedSubclasses()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyCall")
    void callExistsInTheSpecAndItsBodyValidates(FirecrackerCall call) throws Exception {
        FirecrackerSpec.Operation operation = SPEC.operation(call.method(), call.path()).orElseThrow(
                () -> new AssertionError(call.describe() + " is not an operation of the Firecracker API"));
        String body = CLIENT.bodyJson(call).orElse(null);
        if (body == null) {
            assertThat(operation.bodyRequired()).as("%s requires a body", call.describe()).isFalse();
            return;
        }
        JsonNode schema = operation.bodySchema().orElseThrow(() -> new AssertionError(call.describe() + " takes no body"));
        assertThat(SPEC.validate(JSON.readTree(body), schema)).as("%s body %s", call.describe(), body).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyCall")
    void theWireRequestIsWellFormedHttp(FirecrackerCall call) {
        String wire = CLIENT.encode(call);
        assertThat(wire).startsWith(call.method() + " " + call.path() + " HTTP/1.1\r\n");
        String body = CLIENT.bodyJson(call).orElse("");
        if (body.isEmpty()) {
            assertThat(wire).endsWith("\r\n\r\n").doesNotContain("Content-Length");
        } else {
            assertThat(wire).contains("Content-Length: " + body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + "\r\n")
                    .endsWith("\r\n\r\n" + body);
        }
    }

    @Test
    void pathIdsMatchTheIdsInTheBody() {
        // Firecracker rejects a PUT whose path id differs from the body's id.
        assertThat(new FirecrackerCall.PutDrive(new Drive("secrets", "/x", false, true)).path()).isEqualTo("/drives/secrets");
        assertThat(new FirecrackerCall.PutNetworkInterface(new NetworkInterface("eth0", "tap", null)).path())
                .isEqualTo("/network-interfaces/eth0");
    }

    // ------------------------------------------------------------ the validator can fail

    private static List<String> validateAgainst(String definition, String json) throws Exception {
        return SPEC.validate(JSON.readTree(json), JSON.readTree("{\"$ref\":\"#/definitions/" + definition + "\"}"));
    }

    @Test
    void validatorRejectsAMissingRequiredProperty() throws Exception {
        assertThat(validateAgainst("Drive", "{\"drive_id\":\"root\",\"path_on_host\":\"/x\"}"))
                .anySatisfy(e -> assertThat(e).contains("'is_root_device' is missing"));
    }

    @Test
    void validatorRejectsAnUnknownProperty() throws Exception {
        assertThat(validateAgainst("Vsock", "{\"guest_cid\":3,\"uds_path\":\"/x\",\"cid\":3}"))
                .anySatisfy(e -> assertThat(e).contains("$.cid: property is not defined"));
    }

    @Test
    void validatorRejectsAValueOutsideTheEnum() throws Exception {
        assertThat(validateAgainst("Vm", "{\"state\":\"Stopped\"}")).anySatisfy(e -> assertThat(e).contains("is not one of"));
    }

    @Test
    void validatorRejectsAWrongType() throws Exception {
        assertThat(validateAgainst("MachineConfiguration", "{\"vcpu_count\":\"2\",\"mem_size_mib\":256}"))
                .anySatisfy(e -> assertThat(e).contains("$.vcpu_count: expected an integer"));
    }

    @Test
    void validatorRejectsAValueBelowTheMinimum() throws Exception {
        assertThat(validateAgainst("Vsock", "{\"guest_cid\":2,\"uds_path\":\"/x\"}"))
                .anySatisfy(e -> assertThat(e).contains("below the minimum"));
    }

    @Test
    void validatorFollowsReferencesIntoNestedObjects() throws Exception {
        assertThat(validateAgainst("SnapshotLoadParams", "{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Disk\",\"backend_path\":\"/m\"}}"))
                .anySatisfy(e -> assertThat(e).contains("$.mem_backend.backend_type"));
    }

    @Test
    void validatorChecksArrayItems() throws Exception {
        assertThat(validateAgainst("SnapshotLoadParams",
                "{\"snapshot_path\":\"/s\",\"network_overrides\":[{\"iface_id\":\"eth0\"}]}"))
                .anySatisfy(e -> assertThat(e).contains("$.network_overrides[0]"));
    }

    @Test
    void unknownPathsAndMethodsAreNotInTheSpec() {
        assertThat(SPEC.operation("PUT", "/vm")).isEmpty();
        assertThat(SPEC.operation("POST", "/actions")).isEmpty();
        assertThat(SPEC.operation("PUT", "/drives/")).isEmpty();
        assertThat(SPEC.operation("PUT", "/drives/root")).isPresent();
    }
}
