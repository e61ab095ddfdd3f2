package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.health.HealthRegistry;
import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.agent.queue.PassResult;
import io.mvm.agent.reconcile.DesiredStateHolder;
import io.mvm.agent.reconcile.InstanceReconciler;
import io.mvm.agent.reconcile.RestartBook;
import io.mvm.agent.reconcile.StepExecutor;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.PlannerSettings;
import io.mvm.core.reconcile.ReconcilePlanner;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.vm.LocalVms;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ONE real QEMU microVM whose QMP monitor is made unresponsive by stopping the QEMU process
 * (SIGSTOP): a reconcile pass must see it UNKNOWN and leave it alone — whether the desired state
 * wants it running or no longer names it — and after SIGCONT it runs on as the same process. Only
 * a monitor silent past the deadline (60 s on a clock the test moves) makes it FAILED. Passes are
 * driven one by one (no agent threads, no health monitor), so nothing here depends on timing.
 */
class QmpSilenceIT {
    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final InstanceId id = InstanceId.of("qs1-" + run);
    /** Real time plus whatever the test adds: the monitor deadline is judged on this clock. */
    private final AtomicReference<Duration> skew = new AtomicReference<>(Duration.ZERO);
    private final InstantSource clock = () -> Instant.now().plus(skew.get());

    private Path dataDir;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private Long stoppedPid;

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-qmp-silence-it-");
        // A short control timeout keeps each unanswered status query at 3 s.
        var settings = QemuBackend.Settings.defaults(accel.accelerator(), accel.reason())
                .withControlTimeout(Duration.ofSeconds(3)).withMonitorDeadline(Duration.ofSeconds(60));
        vms = new LocalVms(dataDir, new QemuBackend(settings, new VmDrives(Ext4Image.system()), CgroupLimits.detect(),
                VirtioSerialGuestChannel::connect, clock), clock);
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (stoppedPid != null) {
            signal("CONT", stoppedPid);
        }
        if (vms != null) {
            try {
                vms.destroy(id.value());
            } catch (RuntimeException ignored) {
                // not there
            }
        }
        if (dataDir != null) {
            VmHost.killQemusMentioning(dataDir.toString());
        }
        VmHost.deleteTree(dataDir);
    }

    @Test
    void aVmWhoseMonitorDoesNotAnswerIsUnknownAndLeftAloneUntilTheDeadline() throws Exception {
        var spec = new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1), List.of(), Map.of(), Map.of(),
                Map.of(), "r1");
        var desired = new DesiredStateHolder();
        desired.install(DesiredSnapshot.confirmed(1, List.of(new DesiredInstance(spec, Target.RUNNING))));
        var reconciler = reconciler(desired);

        assertThat(reconciler.reconcile(id)).isEqualTo(PassResult.requeueAfter(Duration.ZERO)); // created
        assertThat(reconciler.reconcile(id)).isEqualTo(PassResult.done());
        long pid = vm().pid().orElseThrow();

        stop(pid);
        assertThat(vm().state()).isEqualTo(VmState.UNKNOWN);
        assertThat(vm().lastError().orElse("")).contains("did not answer");
        // Before the fix this pass saw FAILED, planned a restart, and the restart SIGKILLed the VMM.
        assertThat(reconciler.reconcile(id)).isInstanceOf(PassResult.RequeueAfter.class);
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).hasValue(true);
        assertThat(vms.handle(id.value()).state()).as("the handle on disk keeps the last known state")
                .isEqualTo(InstanceState.RUNNING);

        // The desired state no longer names it (it may have moved): still not touched while unknown.
        desired.install(DesiredSnapshot.confirmed(2, List.of()));
        assertThat(reconciler.reconcile(id)).isInstanceOf(PassResult.RequeueAfter.class);
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).hasValue(true);
        desired.install(DesiredSnapshot.confirmed(3, List.of(new DesiredInstance(spec, Target.RUNNING))));

        cont(pid);
        assertThat(vm().state()).isEqualTo(VmState.RUNNING);
        assertThat(vm().pid()).hasValue(pid);
        assertThat(reconciler.reconcile(id)).isEqualTo(PassResult.done());
        try (var guest = vms.guest(id.value())) {
            guest.health(Duration.ofSeconds(30));
        }

        // Silent past the deadline: now it is a failure (and the restart rule applies).
        stop(pid);
        assertThat(vm().state()).isEqualTo(VmState.UNKNOWN);
        skew.set(Duration.ofSeconds(61));
        assertThat(vm().state()).isEqualTo(VmState.CRASHED);
        assertThat(vm().lastError().orElse("")).contains("has not answered for");
        assertThat(vms.find(id.value()).orElseThrow().state()).isEqualTo(InstanceState.FAILED);
    }

    private LocalVm vm() {
        return runtime.observe(id).stream().filter(v -> v.id().equals(id)).findFirst().orElseThrow();
    }

    private InstanceReconciler reconciler(DesiredStateHolder desired) {
        var outbox = new EventOutbox(100);
        var health = new HealthRegistry(3);
        var restarts = new RestartBook(new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofSeconds(2)),
                Duration.ofMinutes(10));
        return new InstanceReconciler(desired, runtime, new ReconcilePlanner(PlannerSettings.DEFAULTS),
                new StepExecutor(runtime, restarts, health, outbox, clock), restarts, health, outbox, clock,
                Duration.ofSeconds(1), (i, tenant) -> { });
    }

    private void stop(long pid) throws Exception {
        signal("STOP", pid);
        stoppedPid = pid;
    }

    private void cont(long pid) throws Exception {
        signal("CONT", pid);
        stoppedPid = null;
    }

    private static void signal(String name, long pid) throws Exception {
        var p = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertThat(p.waitFor()).isZero();
    }
}
