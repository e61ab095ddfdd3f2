package io.mvm.runtime.drive;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.backend.VmSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Builds real ext4 images with mkfs.ext4 and reads them back with debugfs (no mounting). */
class VmDrivesIT {
    @TempDir
    Path dir;

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    @Test
    void buildsLabelledDrivesKeepsDataAndRebuildsSecrets() throws Exception {
        Path vmDir = Files.createDirectory(dir.resolve("vm"));
        VmSpec spec = VmSpec.builder("drives", TestImages.fake(Files.createDirectory(dir.resolve("img"))))
                .drive(new DriveSpec.Data(16))
                .drive(new DriveSpec.Secrets(Map.of("token", "first-secret")))
                .drive(new DriveSpec.Config(7, Map.of("app.conf", "port=80\n".getBytes())))
                .build();
        VmDrives drives = new VmDrives(Ext4Image.system());

        List<AttachedDrive> attached = drives.prepare(spec, vmDir);

        assertThat(attached).extracting(AttachedDrive::id).containsExactly("root", "data", "secrets", "config");
        assertThat(attached).extracting(AttachedDrive::readOnly).containsExactly(true, false, true, true);
        Path data = vmDir.resolve("data.ext4");
        Path secrets = vmDir.resolve("secrets.ext4");
        assertThat(run("e2label", data.toString()).strip()).isEqualTo("mvm-data");
        assertThat(run("e2label", secrets.toString()).strip()).isEqualTo("mvm-secrets");
        assertThat(run("e2label", vmDir.resolve("config.ext4").toString()).strip()).isEqualTo("mvm-config");
        assertThat(Files.getPosixFilePermissions(secrets)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(run("debugfs", "-R", "cat /token", secrets.toString())).contains("first-secret");
        assertThat(run("debugfs", "-R", "cat /.version", vmDir.resolve("config.ext4").toString())).contains("7");
        assertThat(run("debugfs", "-R", "stat /token", secrets.toString())).contains("Mode:  0400");
        assertThat(vmDir.resolve(".secrets-staging")).doesNotExist();

        // Mark the data drive, rotate the secret, prepare again: data kept, secrets rebuilt.
        run("debugfs", "-w", "-R", "mkdir /kept", data.toString());
        drives.prepare(spec.withSecrets(Map.of("token", "rotated-secret")), vmDir);
        assertThat(run("debugfs", "-R", "ls /", data.toString())).contains("kept");
        assertThat(run("debugfs", "-R", "cat /token", secrets.toString())).contains("rotated-secret").doesNotContain("first");
    }
}
