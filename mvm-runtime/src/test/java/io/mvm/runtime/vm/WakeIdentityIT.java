package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every wake (of an ordinary VM, not only of a clone) sets the guest's clock from the host and bumps
 * its generation: microvm under TCG has no kvmclock, so a restored guest would otherwise resume at
 * the time it went to sleep.
 */
class WakeIdentityIT {
    static final Duration ASLEEP = Duration.ofSeconds(20);
    static RuntimeFixture runtime;
    static String name;

    @BeforeAll
    static void boot() throws Exception {
        runtime = new RuntimeFixture();
        name = RuntimeFixture.uniqueName("wake-id");
        runtime.vms.run(VmSpec.builder(name, runtime.image).memoryMib(256).build());
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    static String sh(String script) {
        try (GuestChannel guest = runtime.vms.guest(name)) {
            GuestChannel.ExecResult result = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "sh", "-c", script));
            assertThat(result.exitCode()).as(script + ": " + result.stderrText()).isZero();
            return result.stdoutText().strip();
        }
    }

    @Test
    void aWokenGuestHasTheHostsTimeAndANewGeneration() throws Exception {
        assertThat(sh("cat /run/mvm/generation")).isEqualTo("0");
        String machineId = sh("cat /etc/machine-id");
        runtime.vms.sleep(name, Duration.ofSeconds(5));
        Thread.sleep(ASLEEP.toMillis());
        assertThat(runtime.vms.wake(name, Optional.empty()).state()).isEqualTo(InstanceState.RUNNING);

        long skew = Math.abs(Long.parseLong(sh("date +%s")) - Instant.now().getEpochSecond());
        assertThat(skew).as("guest clock vs host after %s asleep", ASLEEP).isLessThan(ASLEEP.toSeconds() / 2);
        assertThat(sh("cat /run/mvm/generation")).isEqualTo("1");
        assertThat(sh("cat /etc/machine-id")).as("a wake keeps the machine's identity").isEqualTo(machineId);
        assertThat(sh("hostname")).isEqualTo(name);
    }
}
