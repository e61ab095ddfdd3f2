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
import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.qemu.SerialLog;
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
 * ONE real QEMU microVM whose guest floods its serial console without end. Observing it (what every
 * agent report and resync does) keeps the console log within its cap plus one rotated file of at
 * most the cap, and every observation still answers promptly with the VM running. Before the fix the
 * log grew as long as the guest wrote.
 */
class SerialFloodIT {
    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final InstanceId id = InstanceId.of("sf1-" + run);
    private final InstantSource clock = InstantSource.system();

    private Path dataDir;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-serial-flood-it-");
        var settings = QemuBackend.Settings.defaults(accel.accelerator(), accel.reason());
        vms = new LocalVms(dataDir, new QemuBackend(settings, new VmDrives(Ext4Image.system()), CgroupLimits.detect(),
                VirtioSerialGuestChannel::connect, clock), clock);
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
    }

    @AfterEach
    void cleanUp() throws Exception {
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
    void aGuestFloodingItsConsoleCannotGrowTheLogPastTheCapAndObservationKeepsAnswering() throws Exception {
        var spec = new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1), List.of(), Map.of(), Map.of(),
                Map.of(), "r1");
        var desired = new DesiredStateHolder();
        desired.install(DesiredSnapshot.confirmed(1, List.of(new DesiredInstance(spec, Target.RUNNING))));
        var reconciler = reconciler(desired);
        assertThat(reconciler.reconcile(id)).isEqualTo(PassResult.requeueAfter(Duration.ZERO)); // created
        assertThat(reconciler.reconcile(id)).isEqualTo(PassResult.done());
        long pid = vm().pid().orElseThrow();

        Path log = vms.handle(id.value()).serialLog();
        Path rotated = log.resolveSibling(log.getFileName() + ".1");
        try (var guest = vms.guest(id.value())) {
            var line = "x".repeat(200);
            var started = guest.exec(ExecRequest.of(Duration.ofSeconds(30), "sh", "-c",
                    "setsid sh -c 'while :; do echo " + line + "; done' < /dev/null > /dev/console 2>&1 &"));
            assertThat(started.exitCode()).isZero();
        }

        long cap = SerialLog.DEFAULT_CAP;
        long largest = 0;
        int rotations = 0;
        long end = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        long previousRotated = -1;
        while (System.nanoTime() < end && rotations < 3) {
            long before = System.nanoTime();
            var observed = vm(); // the agent's observation: rotates the log
            assertThat(observed.state()).isEqualTo(VmState.RUNNING);
            assertThat(Duration.ofNanos(System.nanoTime() - before)).as("observation stays prompt")
                    .isLessThan(Duration.ofSeconds(10));
            if (Files.exists(rotated)) {
                long modified = Files.getLastModifiedTime(rotated).toMillis();
                if (modified != previousRotated) {
                    rotations++;
                    previousRotated = modified;
                }
                assertThat(Files.size(rotated)).isLessThanOrEqualTo(cap);
            }
            largest = Math.max(largest, Files.size(log));
            Thread.sleep(500);
        }
        System.out.printf("serial flood: %d rotations seen, largest current log %d bytes%n", rotations, largest);
        assertThat(rotations).as("the flood went past the cap (and was rotated) more than once").isGreaterThanOrEqualTo(2);
        // Between two observations (0.5 s here; a report interval in the agent) the guest may add
        // what it writes in that time on top of the cap.
        assertThat(Files.size(log)).isLessThanOrEqualTo(2 * cap);
        assertThat(Files.readString(rotated, java.nio.charset.StandardCharsets.ISO_8859_1)).contains("xxxxxxxxxx");
        try (var dir = Files.list(log.getParent())) {
            assertThat(dir.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("serial.log")))
                    .containsExactlyInAnyOrder("serial.log", "serial.log.1");
        }
        assertThat(vm().pid()).as("the same VMM runs on").hasValue(pid);
        try (var guest = vms.guest(id.value())) {
            guest.health(Duration.ofSeconds(60));
        }
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
}
