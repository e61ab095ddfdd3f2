package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A guest that cannot boot (its root drive is an empty filesystem) fails the start quickly with the
 * guest's own reason, and nothing keeps running: no VMM, no cgroup; the handle says FAILED.
 */
class VmBootFailureIT {
    RuntimeFixture runtime;

    @BeforeEach
    void setUp() throws Exception {
        runtime = new RuntimeFixture();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    @Test
    void aGuestWithoutItsRootDriveFailsTheStartWithTheGuestsReason() {
        Path wrongRoot = runtime.dataDir.resolve("not-a-root.ext4");
        // Labelled like a root drive but empty: the guest's init finds it, then has nothing to run.
        // Readable by everyone, as images are: the VMM runs as its own unprivileged user.
        Ext4Image.system().build(wrongRoot, "mvm-root", null, 8, PosixFilePermissions.fromString("rw-r--r--"));
        GuestImage broken = new GuestImage("broken", runtime.image.kernel(), runtime.image.initramfs(), wrongRoot,
                runtime.image.kernelVersion(), runtime.image.bootArgs());
        String name = RuntimeFixture.uniqueName("noroot");

        assertThatThrownBy(() -> runtime.vms.run(VmSpec.builder(name, broken).build()))
                .isInstanceOfSatisfying(MvmException.class, e -> {
                    assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
                    assertThat(e.getMessage()).contains("did not start").contains("mvm-boot-failed").doesNotContain("\n");
                });

        VmHandle handle = runtime.vms.handle(name);
        assertThat(handle.state()).isEqualTo(InstanceState.FAILED);
        assertThat(handle.pid()).isZero();
        assertThat(handle.stateReason()).contains("last serial lines");
        assertThat(handle.cgroup()).isNull();
        assertThat(VmCgroup.decode(handle.cgroup())).isNull();
        java.util.List<Path> parents = switch (runtime.cgroups) {
            case io.mvm.runtime.cgroup.CgroupLimits.V1 v1 -> java.util.List.of(v1.cpuParent(), v1.memoryParent());
            case io.mvm.runtime.cgroup.CgroupLimits.V2 v2 -> java.util.List.of(v2.parent());
            case io.mvm.runtime.cgroup.CgroupLimits.Unavailable u -> java.util.List.of();
        };
        for (Path parent : parents) {
            assertThat(parent.resolve("mvm").toFile().list((d, n) -> n.startsWith(name + "-"))).isEmpty();
        }
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(handle.vmDir().toString())))
                .isEmpty();
    }
}
