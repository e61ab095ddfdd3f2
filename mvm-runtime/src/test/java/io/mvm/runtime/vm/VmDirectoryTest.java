package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.backend.ImageFileDigest;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmDirectoryTest {
    @TempDir
    Path dir;

    @Test
    void handleRoundTripsThroughJsonAndLeavesNoTemporaryFiles() throws Exception {
        VmDirectory vm = new VmDirectory(Files.createDirectory(dir.resolve("web-1")));
        VmHandle handle = new VmHandle(VmHandle.SCHEMA_VERSION, "web-1", "qemu", Accelerator.TCG, InstanceState.RUNNING,
                null, 4242, 987654, vm.path(), vm.path().resolve("qmp.sock"), vm.path().resolve("agent.sock"),
                vm.path().resolve("serial.log"), null, "/sys/fs/cgroup/cpu/mvm/web-1-abc", "10.0.0.2",
                Instant.parse("2026-11-21T23:00:00Z"));
        vm.record(handle);
        vm.record(handle.withState(InstanceState.WARM, null, Instant.parse("2026-11-21T23:00:01Z")));
        assertThat(vm.handle()).contains(handle.withState(InstanceState.WARM, null, Instant.parse("2026-11-21T23:00:01Z")));
        try (var files = Files.list(vm.path())) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("handle.json");
        }
        assertThat(Files.readString(vm.handleFile())).contains("\"schemaVersion\" : 1", "\"pidStartTicks\" : 987654");
    }

    @Test
    void imageDigestsRoundTripAndHandlesWrittenBeforeThemStillRead() throws Exception {
        VmDirectory vm = new VmDirectory(Files.createDirectory(dir.resolve("web-2")));
        ImageFileDigest rootfs = new ImageFileDigest("ab12", "64769:1234:16777216:1700000000000000000:1700000000000000001");
        VmHandle handle = new VmHandle(VmHandle.SCHEMA_VERSION, "web-2", "qemu", Accelerator.TCG, InstanceState.SLEEPING,
                null, 0, 0, vm.path(), vm.path().resolve("qmp.sock"), vm.path().resolve("agent.sock"),
                vm.path().resolve("serial.log"), vm.path().resolve("snapshot.bin"), null, null,
                Instant.parse("2026-11-21T23:00:00Z"), Map.of("/img/rootfs.ext4", rootfs));
        vm.record(handle);
        assertThat(vm.handle()).contains(handle);
        assertThat(vm.handle().orElseThrow().withState(InstanceState.WAKING, null, Instant.EPOCH).imageDigests())
                .containsExactly(Map.entry("/img/rootfs.ext4", rootfs));

        // Written before identities were recorded: path -> bare hex digest.
        var tree = (com.fasterxml.jackson.databind.node.ObjectNode) VmDirectory.JSON.readTree(vm.handleFile().toFile());
        tree.putObject("imageDigests").put("/img/rootfs.ext4", "ab12");
        Files.write(vm.handleFile(), VmDirectory.JSON.writeValueAsBytes(tree));
        assertThat(vm.handle().orElseThrow().imageDigests())
                .containsExactly(Map.entry("/img/rootfs.ext4", new ImageFileDigest("ab12", null)));

        // Written before digests were recorded at all.
        tree.remove("imageDigests");
        Files.write(vm.handleFile(), VmDirectory.JSON.writeValueAsBytes(tree));
        assertThat(vm.handle().orElseThrow().imageDigests()).isNull();
    }

    @Test
    void secretsAreStoredApartFromTheSpecWithMode0600() throws Exception {
        VmDirectory vm = new VmDirectory(Files.createDirectory(dir.resolve("db")));
        VmSpec spec = VmSpec.builder("db", TestImages.fake(Files.createDirectory(dir.resolve("img"))))
                .drive(new DriveSpec.Data(32)).drive(new DriveSpec.Secrets(Map.of("password", "hunter2")))
                .drive(new DriveSpec.Config(2, Map.of("db.conf", "x=1".getBytes())))
                .nic(new NicSpec("t1", "52:54:00:00:00:01", "10.0.0.9", 24, null)).cmd("run").build();
        vm.saveDefinition(VmDefinition.of(spec));
        vm.saveSecrets(Map.of("password", "hunter2"));

        assertThat(Files.readString(vm.specFile())).doesNotContain("hunter2").contains("password");
        assertThat(Files.getPosixFilePermissions(vm.secretsFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getPosixFilePermissions(vm.specFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        VmSpec back = vm.definition().orElseThrow().toSpec(vm.secrets());
        assertThat(back.drive(DriveSpec.Secrets.class).orElseThrow().entries()).containsEntry("password", "hunter2");
        assertThat(back.drive(DriveSpec.Config.class).orElseThrow().files().get("db.conf")).isEqualTo("x=1".getBytes());
        assertThat(back.nic()).isEqualTo(spec.nic());
        assertThat(back.drive(DriveSpec.Data.class)).contains(new DriveSpec.Data(32));
    }
}
