package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.qemu.QmpClient;
import io.mvm.runtime.qemu.StopPath;
import io.mvm.runtime.testing.ProcessReaper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Supervision with one real microVM: the data drive survives a graceful stop/start (unsynced
 * writes included), a freshly built runtime re-adopts the running VMM (and can exec in it) and
 * sweeps orphan directories, a VMM killed with SIGKILL is reported failed with its serial tail, and
 * a VMM launched by a runtime that crashed before journalling its pid is adopted or killed — never
 * joined by a second QEMU on the same drives — and destroyed with the VM.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmRecoveryIT {
    private static final Duration CALL = Duration.ofSeconds(60);
    static RuntimeFixture runtime;
    static String name;

    @BeforeAll
    static void boot() throws Exception {
        runtime = new RuntimeFixture();
        name = RuntimeFixture.uniqueName("recover");
        runtime.vms.run(VmSpec.builder(name, runtime.image).memoryMib(256).drive(new DriveSpec.Data(32)).build());
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    private static GuestChannel.ExecResult exec(LocalVms vms, String... argv) {
        try (GuestChannel guest = vms.guest(name)) {
            return guest.exec(GuestChannel.ExecRequest.of(CALL, argv));
        }
    }

    @Test
    @Order(1)
    void dataDriveSurvivesAGracefulStopAndStart() {
        // No sync: only the graceful path (the agent syncs, the guest powers off) keeps this.
        assertThat(exec(runtime.vms, "sh", "-c", "echo kept > /data/proof").exitCode()).isZero();
        VmHandle before = runtime.vms.handle(name);

        VmStatus stopped = runtime.vms.stop(name, Duration.ofSeconds(60));

        assertThat(stopped.state()).isEqualTo(InstanceState.STOPPED);
        assertThat(StopPath.fromReason(stopped.reason())).contains(StopPath.GUEST_POWEROFF);
        assertThat(before.process().isAlive()).isFalse();
        VmStatus started = runtime.vms.start(name, Optional.empty());
        assertThat(started.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(started.pid()).isNotEqualTo(before.pid());
        assertThat(exec(runtime.vms, "cat", "/data/proof").stdoutText()).isEqualTo("kept\n");
    }

    @Test
    @Order(2)
    void aRestartedRuntimeReadoptsTheRunningVmAndSweepsOrphans() throws Exception {
        Path orphan = Files.createDirectories(runtime.dataDir.resolve("vms").resolve("half-created"));
        Files.writeString(orphan.resolve("data.ext4"), "left by a crash before the handle was written");
        long pid = runtime.vms.handle(name).pid();

        LocalVms restarted = runtime.restartedRuntime();
        LocalVms.Recovery recovery = restarted.recoverAll();

        assertThat(recovery.adopted()).extracting(VmStatus::name).containsExactly(name);
        assertThat(recovery.failed()).isEmpty();
        assertThat(recovery.sweptOrphans()).containsExactly("half-created");
        assertThat(orphan).doesNotExist();
        assertThat(restarted.handle(name).pid()).isEqualTo(pid);
        assertThat(exec(restarted, "echo", "adopted").stdoutText()).isEqualTo("adopted\n");
        assertThat(restarted.pause(name).state()).isEqualTo(InstanceState.WARM);
        assertThat(restarted.resume(name).state()).isEqualTo(InstanceState.RUNNING);
    }

    @Test
    @Order(3)
    void aKilledVmmIsReportedFailedWithItsSerialTail() throws Exception {
        VmHandle handle = runtime.vms.handle(name);
        ProcessHandle.of(handle.pid()).orElseThrow().destroyForcibly(); // SIGKILL, as an OOM killer would
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !handle.process().isAlive());

        LocalVms.Recovery recovery = runtime.restartedRuntime().recoverAll();

        assertThat(recovery.failed()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo(name);
            assertThat(s.state()).isEqualTo(InstanceState.FAILED);
            assertThat(s.reason()).contains("is gone").contains("last serial lines").contains("mvm-guest-ready");
        });
        assertThat(runtime.vms.list()).singleElement().extracting(VmStatus::state).isEqualTo(InstanceState.FAILED);
        assertThat(runtime.vms.handle(name).pid()).isZero();
    }

    @Test
    @Order(4)
    void aFailedVmStartsAgainAndTheExitWatcherNoticesTheNextKill() throws Exception {
        assertThat(runtime.vms.start(name, Optional.empty()).state()).isEqualTo(InstanceState.RUNNING);
        assertThat(exec(runtime.vms, "cat", "/data/proof").stdoutText()).isEqualTo("kept\n");
        VmHandle handle = runtime.vms.handle(name);
        var exitNoticed = runtime.vms.whenVmmExits(name, Duration.ofMillis(200));
        assertThat(exitNoticed).isNotDone();

        ProcessHandle.of(handle.pid()).orElseThrow().destroyForcibly();

        VmStatus afterExit = exitNoticed.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(afterExit.state()).isEqualTo(InstanceState.FAILED);
        assertThat(afterExit.reason()).contains("is gone");
    }

    /** Rewrites the handle as the runtime journals it just before launching QEMU (pid not yet known). */
    private static VmHandle simulateCrashBeforeThePidWasJournalled(InstanceState state) {
        VmHandle live = runtime.vms.handle(name);
        VmHandle preLaunch = live.withProcess(null, live.updatedAt()).withState(state, null, live.updatedAt());
        new VmDirectory(runtime.vms.directory(name)).record(preLaunch);
        return live;
    }

    @Test
    @Order(5)
    void aVmmLaunchedJustBeforeACrashIsAdoptedAndNeverJoinedByASecondOne() {
        Path vmDir = runtime.vms.directory(name);
        if (runtime.vms.status(name).state() != InstanceState.RUNNING) {
            runtime.vms.start(name, Optional.empty());
        }
        VmHandle live = simulateCrashBeforeThePidWasJournalled(InstanceState.CREATING);

        LocalVms.Recovery recovery = runtime.restartedRuntime().recoverAll();

        assertThat(recovery.adopted()).extracting(VmStatus::name).containsExactly(name);
        VmHandle adopted = runtime.vms.handle(name);
        assertThat(adopted.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(adopted.pid()).isEqualTo(live.pid());
        assertThat(adopted.pidStartTicks()).isEqualTo(live.pidStartTicks());
        assertThat(ProcessReaper.mentioning(vmDir)).containsExactly(live.pid());
        assertThat(exec(runtime.vms, "cat", "/data/proof").stdoutText()).isEqualTo("kept\n");
        assertThatThrownBy(() -> runtime.vms.start(name, Optional.empty())).isInstanceOfSatisfying(MvmException.class,
                e -> assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION));
        assertThat(ProcessReaper.mentioning(vmDir)).containsExactly(live.pid());
    }

    @Test
    @Order(6)
    void startingAVmWhoseOrphanedVmmStillRunsReplacesItInsteadOfAddingASecond() {
        Path vmDir = runtime.vms.directory(name);
        // What the runtime before this fix wrote in that window: FAILED with pid 0, QEMU still running.
        VmHandle live = simulateCrashBeforeThePidWasJournalled(InstanceState.FAILED);

        VmStatus started = runtime.vms.start(name, Optional.empty());

        assertThat(started.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(live.process().isAlive()).as("the orphan is killed").isFalse();
        assertThat(ProcessReaper.mentioning(vmDir)).containsExactly(started.pid());
        assertThat(exec(runtime.vms, "cat", "/data/proof").stdoutText()).isEqualTo("kept\n");
    }

    @Test
    @Order(7)
    void aWakingVmFoundRunningAfterACrashLosesItsSnapshot() throws Exception {
        if (runtime.vms.status(name).state() != InstanceState.RUNNING) {
            runtime.vms.start(name, Optional.empty());
        }
        VmHandle live = runtime.vms.handle(name);
        // What a runtime that died between the restore (the guest already running) and the snapshot's
        // discard leaves: WAKING, the VMM's pid, and a snapshot the guest has moved on from.
        Path snapshot = Files.write(runtime.vms.directory(name).resolve("snapshot.bin"), new byte[4096]);
        new VmDirectory(runtime.vms.directory(name)).record(
                live.withState(InstanceState.WAKING, null, live.updatedAt()).withSnapshot(snapshot, live.updatedAt()));

        LocalVms.Recovery recovery = runtime.restartedRuntime().recoverAll();

        assertThat(recovery.adopted()).extracting(VmStatus::name).containsExactly(name);
        VmHandle adopted = runtime.vms.handle(name);
        assertThat(adopted.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(adopted.snapshot()).as("restoring it again would corrupt the guest's disks").isNull();
        assertThat(snapshot).doesNotExist();
        assertThat(adopted.pid()).isEqualTo(live.pid());
    }

    @Test
    @Order(8)
    void anOrphanedVmmWhoseMonitorDoesNotAnswerIsKilled() throws Exception {
        Path vmDir = runtime.vms.directory(name);
        VmHandle live = runtime.vms.handle(name);
        // QEMU serves one monitor client at a time: while the test holds it, recovery gets no answer.
        try (QmpClient busy = QmpClient.connect(live.controlSocket(), CALL)) {
            simulateCrashBeforeThePidWasJournalled(InstanceState.CREATING);

            LocalVms.Recovery recovery = runtime.restartedRuntime().recoverAll();

            assertThat(recovery.adopted()).isEmpty();
            assertThat(recovery.failed()).singleElement().satisfies(s -> assertThat(s.reason())
                    .contains("killed VMM pid " + live.pid()).contains("no answer"));
        }
        assertThat(live.process().isAlive()).isFalse();
        assertThat(ProcessReaper.mentioning(vmDir)).isEmpty();
        assertThat(runtime.vms.handle(name).state()).isEqualTo(InstanceState.FAILED);
    }

    @Test
    @Order(9)
    void destroyKillsAVmmTheHandleDoesNotName() {
        Path vmDir = runtime.vms.directory(name);
        assertThat(runtime.vms.start(name, Optional.empty()).state()).isEqualTo(InstanceState.RUNNING);
        VmHandle live = simulateCrashBeforeThePidWasJournalled(InstanceState.WAKING);

        runtime.vms.destroy(name);

        assertThat(live.process().isAlive()).isFalse();
        assertThat(ProcessReaper.mentioning(vmDir)).isEmpty();
        assertThat(vmDir).doesNotExist();
    }
}
