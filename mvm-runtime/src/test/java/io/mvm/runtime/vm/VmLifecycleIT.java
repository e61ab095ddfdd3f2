package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.qemu.QmpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * One real microVM through its whole life: boot to a healthy agent, exec, pause/resume (guest time
 * stops), sleep (VMM gone, snapshot on disk), wake (tmpfs kept, secret rotated), destroy (nothing
 * left). Ordered, because each step needs the state the previous one left.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmLifecycleIT {
    private static final Duration CALL = Duration.ofSeconds(60);
    static RuntimeFixture runtime;
    static String name;

    @BeforeAll
    static void boot() throws Exception {
        runtime = new RuntimeFixture();
        name = RuntimeFixture.uniqueName("life");
        VmSpec spec = VmSpec.builder(name, runtime.image).vcpus(1).memoryMib(256)
                .drive(new DriveSpec.Secrets(Map.of("api-token", "first-token")))
                .env(Map.of("GREETING", "hi")).build();
        VmStatus status = runtime.vms.run(spec);
        assertThat(status.state()).isEqualTo(InstanceState.RUNNING);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    private static GuestChannel.ExecResult exec(String... argv) {
        try (GuestChannel guest = runtime.vms.guest(name)) {
            return guest.exec(GuestChannel.ExecRequest.of(CALL, argv));
        }
    }

    private static double uptime() {
        return Double.parseDouble(exec("cat", "/proc/uptime").stdoutText().split(" ")[0]);
    }

    @Test
    @Order(1)
    void agentIsHealthyAndTheAcceleratorIsRecorded() {
        try (GuestChannel guest = runtime.vms.guest(name)) {
            GuestChannel.Health health = guest.health(CALL);
            assertThat(health.hostname()).isEqualTo(name);
            assertThat(health.protocolVersion()).isEqualTo(GuestChannel.PROTOCOL_VERSION);
        }
        VmHandle handle = runtime.vms.handle(name);
        assertThat(handle.accelerator()).isEqualTo(runtime.backend.settings().accelerator());
        assertThat(handle.pid()).isPositive();
        assertThat(runtime.vms.list()).extracting(VmStatus::name, VmStatus::state, VmStatus::accelerator)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(name, InstanceState.RUNNING, handle.accelerator()));
    }

    @Test
    @Order(2)
    void execReturnsOutputAndExitCode() {
        GuestChannel.ExecResult result = exec("sh", "-c", "echo out-$(hostname); echo err >&2; exit 7");
        assertThat(result.exitCode()).isEqualTo(7);
        assertThat(result.stdoutText()).isEqualTo("out-" + name + "\n");
        assertThat(result.stderrText()).isEqualTo("err\n");
    }

    @Test
    @Order(3)
    void guestTimeStopsWhilePausedAndContinuesAfterResume() throws Exception {
        double before = uptime();
        long hostStart = System.nanoTime();
        runtime.vms.pause(name);
        assertThat(runtime.vms.handle(name).state()).isEqualTo(InstanceState.WARM);
        try (QmpClient qmp = QmpClient.connect(runtime.vms.handle(name).controlSocket(), CALL)) {
            assertThat(qmp.execute("query-status", CALL).path("status").asText()).isEqualTo("paused");
        }
        Thread.sleep(6000);
        runtime.vms.resume(name);
        double afterResume = uptime();
        double hostElapsed = (System.nanoTime() - hostStart) / 1e9;
        // 6 s of the host window were paused: the guest must have seen at least ~5 s less than the host.
        assertThat(afterResume - before).isLessThan(hostElapsed - 5.0);

        Thread.sleep(2000);
        assertThat(uptime()).isGreaterThan(afterResume + 1.0);
    }

    @Test
    @Order(4)
    void sleepLeavesNoVmmAndASnapshotThenWakeKeepsTmpfsAndRotatesSecrets() {
        assertThat(exec("sh", "-c", "echo before-sleep > /tmp/marker && cat /run/secrets/api-token").stdoutText())
                .isEqualTo("first-token");
        VmHandle running = runtime.vms.handle(name);

        VmStatus sleeping = runtime.vms.sleep(name, Duration.ofSeconds(10));

        assertThat(sleeping.state()).isEqualTo(InstanceState.SLEEPING);
        assertThat(running.process().isAlive()).isFalse();
        VmHandle handle = runtime.vms.handle(name);
        assertThat(handle.snapshot()).isRegularFile();
        assertThat(handle.snapshot().toFile().length()).isGreaterThan(1 << 20);
        assertThat(handle.pid()).isZero();
        assertThat(handle.controlSocket()).doesNotExist();

        VmStatus awake = runtime.vms.wake(name, Optional.of(Map.of("api-token", "rotated-token")));

        assertThat(awake.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(exec("cat", "/tmp/marker").stdoutText()).isEqualTo("before-sleep\n");
        assertThat(exec("cat", "/run/secrets/api-token").stdoutText()).isEqualTo("rotated-token");
        assertThat(runtime.vms.handle(name).snapshot()).isNull();
        assertThat(handle.snapshot()).doesNotExist();
        Path secrets = runtime.vms.directory(name).resolve("secrets.ext4");
        assertThat(secrets).satisfies(p -> assertThat(Files.getPosixFilePermissions(p))
                .isEqualTo(PosixFilePermissions.fromString("rw-------")));
    }

    @Test
    @Order(5)
    void destroyLeavesNoProcessSocketCgroupOrFile() {
        VmHandle handle = runtime.vms.handle(name);
        Path dir = runtime.vms.directory(name);
        VmCgroup group = VmCgroup.decode(handle.cgroup());

        runtime.vms.destroy(name);

        assertThat(handle.process().isAlive()).isFalse();
        assertThat(dir).doesNotExist();
        assertThat(handle.agentSocket()).doesNotExist();
        if (runtime.cgroups.available()) {
            assertThat(group).isNotNull();
            assertThat(group.dirs()).allSatisfy(d -> assertThat(d).doesNotExist());
        }
        assertThat(runtime.vms.list()).isEmpty();
    }
}
