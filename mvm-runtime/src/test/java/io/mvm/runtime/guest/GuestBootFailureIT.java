package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A boot that cannot finish ends the VM with a reason in the serial log instead of hanging. */
class GuestBootFailureIT {

    @Test
    void withoutARootDriveTheGuestSaysWhyAndPowersOff() throws Exception {
        HostCapabilities.requireVmHost();
        GuestImage image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
        GuestImage withoutRoot = new GuestImage(image.name(), image.kernel(), image.initramfs(),
                Path.of("/dev/null"), image.kernelVersion(), image.bootArgs());
        Path work = TestMicroVm.newWorkDir("noroot");
        try (TestMicroVm vm = TestMicroVm.boot(withoutRoot, work, "", List.of())) {
            assertThat(vm.waitForExit(Duration.ofSeconds(180))).as(vm.describe()).isTrue();
            assertThat(vm.serial()).contains("mvm-boot-failed: no drive labelled mvm-root");
            assertThat(vm.serial()).doesNotContain("mvm-guest-ready");
        } finally {
            TestMicroVm.deleteTree(work);
        }
    }
}
