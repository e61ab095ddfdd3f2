package io.mvm.runtime.accel;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.runtime.backend.TestImages;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.testing.HostCapabilities;
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
     * A real probe boot under KVM. Where /dev/kvm is absent or hangs the guest (as on the CI hosts)
     * the answer must be TCG with that reason; where KVM works it must be KVM.
     */
    @Test
    void aRealProbeBootDecides() {
        HostCapabilities.requireVmHost();
        GuestImage image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
        AcceleratorChoice choice = new AcceleratorProbe("qemu-system-x86_64", Path.of("/dev/kvm"), Duration.ofSeconds(20),
                InstantSource.system()).probe(image);
        if (choice.accelerator() == Accelerator.KVM) {
            assertThat(choice.reason()).contains("reached the guest");
        } else {
            assertThat(choice.reason()).containsAnyOf("no /dev/kvm", "did not reach the guest", "could not boot with KVM",
                    "not accessible");
        }
    }
}
