package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Sleep drains the guest first, also when it goes to sleep from warm. A warm guest's vCPUs are
 * stopped, so it cannot hear a drain; the runtime must resume it for the drain and only then
 * snapshot. Real microvm: the workload writes a marker to tmpfs when told to finish, and the marker
 * is in the snapshot the VM wakes from.
 */
class WarmSleepDrainIT {
    private static final Duration CALL = Duration.ofSeconds(60);
    private static final String POLITE_WORKLOAD =
            "trap 'echo drained > /tmp/drained; exit 0' TERM; echo polite-started; while :; do sleep 1; done";

    @Test
    void aWarmVmIsDrainedBeforeItsSnapshot() throws Exception {
        try (RuntimeFixture runtime = new RuntimeFixture()) {
            String name = RuntimeFixture.uniqueName("warmdrain");
            runtime.vms.run(VmSpec.builder(name, runtime.image).vcpus(1).memoryMib(256).cmd(POLITE_WORKLOAD).build());
            try (GuestChannel guest = runtime.vms.guest(name)) {
                await().atMost(Duration.ofMinutes(2)).until(() -> guest.workload(CALL).state().equals("running"));
            }
            assertThat(runtime.vms.pause(name).state()).isEqualTo(InstanceState.WARM);

            assertThat(runtime.vms.sleep(name, Duration.ofSeconds(30)).state()).isEqualTo(InstanceState.SLEEPING);
            assertThat(runtime.vms.wake(name, Optional.empty()).state()).isEqualTo(InstanceState.RUNNING);

            try (GuestChannel guest = runtime.vms.guest(name)) {
                var marker = guest.exec(ExecRequest.of(CALL, "cat", "/tmp/drained"));
                assertThat(marker.exitCode()).as("the workload heard the drain before the snapshot; stderr: %s",
                        marker.stderrText()).isZero();
                assertThat(marker.stdoutText()).isEqualTo("drained\n");
                assertThat(guest.workload(CALL).state()).isEqualTo("exited");
            }
        }
    }
}
