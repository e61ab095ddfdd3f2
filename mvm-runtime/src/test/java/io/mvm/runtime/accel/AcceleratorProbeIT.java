package io.mvm.runtime.accel;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AcceleratorProbeIT {
    @TempDir
    Path dir;

    @Test
    void withoutAKvmDeviceItIsTcgWithTheReasonAndTheResultIsCached() throws Exception {
        GuestImage image = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        AcceleratorProbe probe = new AcceleratorProbe("qemu-system-x86_64", dir.resolve("no-kvm"), Duration.ofSeconds(5),
                InstantSource.system());

        AcceleratorChoice first = probe.choose(dir, image, Optional.empty());

        assertThat(first.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(first.reason()).contains("no " + dir.resolve("no-kvm"));
        assertThat(dir.resolve(AcceleratorProbe.CACHE_FILE)).isRegularFile();
        assertThat(probe.choose(dir, image, Optional.empty())).isEqualTo(first);
        assertThat(probe.choose(dir, image, Optional.of(Accelerator.KVM)).reason()).contains("MVM_ACCEL");
    }

    /**
     * Forces the fallback the CI hosts hit: a KVM device that opens and a VMM that never reaches the
     * guest. The "QEMU" here is a script that only sleeps; the probe must give up at its deadline,
     * answer TCG with that reason and leave no process behind.
     */
    @Test
    void aVmmThatHangsUnderKvmFallsBackToTcgAtTheDeadline() throws Exception {
        GuestImage image = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        Path kvm = Files.writeString(dir.resolve("fake-kvm"), ""); // opens read-write, as /dev/kvm does here
        Path pidFile = dir.resolve("fake-qemu.pid");
        Path qemu = dir.resolve("qemu-system-x86_64");
        Files.writeString(qemu, "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 600\n");
        Files.setPosixFilePermissions(qemu, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        AcceleratorProbe probe = new AcceleratorProbe(qemu.toString(), kvm, Duration.ofSeconds(2), InstantSource.system());

        long started = System.nanoTime();
        AcceleratorChoice choice = probe.probe(image);
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        assertThat(choice.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(choice.reason()).contains("did not reach the guest within 2 s").endsWith("using TCG");
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).as("the hung probe VMM is killed").isEmpty();
    }

    @Test
    void aVmmThatCannotStartUnderKvmFallsBackToTcgWithItsOutput() throws Exception {
        GuestImage image = TestImages.fake(Files.createDirectory(dir.resolve("img")));
        Path kvm = Files.writeString(dir.resolve("fake-kvm"), "");
        Path qemu = dir.resolve("qemu-system-x86_64");
        Files.writeString(qemu, "#!/bin/sh\necho 'Could not access KVM kernel module' >&2\nexit 1\n");
        Files.setPosixFilePermissions(qemu, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));

        AcceleratorChoice choice = new AcceleratorProbe(qemu.toString(), kvm, Duration.ofSeconds(30), InstantSource.system())
                .probe(image);

        assertThat(choice.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(choice.reason()).contains("could not boot with KVM (exit 1)").contains("Could not access KVM kernel module");
    }
}
