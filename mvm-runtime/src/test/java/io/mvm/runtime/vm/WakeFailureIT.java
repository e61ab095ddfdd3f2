package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A wake whose restored guest runs but fails its first call (here: the secrets cannot be mounted,
 * because the guest removed their mount point before it slept). The snapshot is gone by then (the
 * guest has run and may have written to its disks), so the VMM holding its memory must not be
 * killed: the VM is FAILED with its VMM alive, a second wake is refused with a hint, and start
 * cold-boots it after stopping that VMM. Real microvm.
 */
class WakeFailureIT {
    private static final Duration CALL = Duration.ofSeconds(60);

    @Test
    void aWokenGuestThatFailsItsFirstCallKeepsItsVmmAndCanBeColdBooted() throws Exception {
        try (RuntimeFixture runtime = new RuntimeFixture()) {
            String name = RuntimeFixture.uniqueName("wakefail");
            runtime.vms.run(VmSpec.builder(name, runtime.image).vcpus(1).memoryMib(256)
                    .drive(new DriveSpec.Secrets(Map.of("token", "s1"))).build());
            try (GuestChannel guest = runtime.vms.guest(name)) {
                var broken = guest.exec(ExecRequest.of(CALL, "sh", "-c", "umount /run/secrets && rmdir /run/secrets"));
                assertThat(broken.exitCode()).as(broken.stderrText()).isZero();
            }
            runtime.vms.sleep(name, Duration.ofSeconds(10));
            Path snapshot = runtime.vms.handle(name).snapshot();
            assertThat(snapshot).isRegularFile();

            assertThatThrownBy(() -> runtime.vms.wake(name, Optional.empty())).isInstanceOfSatisfying(MvmException.class, e -> {
                assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
                assertThat(e.getMessage()).contains("woke but").contains("cannot mount the secrets drive")
                        .contains("VMM still running");
            });

            VmHandle failed = runtime.vms.handle(name);
            assertThat(failed.state()).isEqualTo(InstanceState.FAILED);
            assertThat(failed.process()).isNotNull();
            assertThat(failed.process().isAlive()).as("the guest's memory lives only in this VMM now").isTrue();
            assertThat(failed.snapshot()).isNull();
            assertThat(snapshot).doesNotExist();
            assertThat(snapshot.resolveSibling("snapshot.bin.discard")).doesNotExist();
            assertThatThrownBy(() -> runtime.vms.wake(name, Optional.empty()))
                    .hasMessageContaining("no snapshot to wake from").hasMessageContaining("start it to cold-boot");

            assertThat(runtime.vms.start(name, Optional.empty()).state()).isEqualTo(InstanceState.RUNNING);
            assertThat(failed.process().isAlive()).as("start stopped the old VMM first").isFalse();
            try (GuestChannel guest = runtime.vms.guest(name)) {
                assertThat(guest.exec(ExecRequest.of(CALL, "cat", "/run/secrets/token")).stdoutText()).isEqualTo("s1");
            }
        }
    }
}
