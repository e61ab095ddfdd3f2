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

    /**
     * The same flood under a whole agent (report loop, health monitor, resync) talking to a scripted
     * coordinator that counts reports: they keep arriving every report interval, the VM reported
     * running, while the agent's own observations keep the log bounded.
     */
    @Test
    void anAgentKeepsReportingWhileItsGuestFloodsTheConsole() throws Exception {
        var coordinator = new ScriptedCoordinator();
        var reports = new java.util.concurrent.atomic.AtomicInteger();
        var counting = new io.mvm.agent.coordinator.CoordinatorClient() {
            @Override public io.mvm.agent.coordinator.Registration register(io.mvm.agent.coordinator.NodeRegistration r) {
                return coordinator.register(r);
            }
            @Override public void heartbeat(io.mvm.model.NodeId node, int count) { coordinator.heartbeat(node, count); }
            @Override public DesiredSnapshot desired(io.mvm.model.NodeId node, java.util.OptionalLong after, Duration wait) {
                return coordinator.desired(node, after, wait);
            }
            @Override public void reportObserved(io.mvm.model.NodeId node, io.mvm.agent.coordinator.ObservedReport report) {
                coordinator.reportObserved(node, report);
                reports.incrementAndGet();
            }
        };
        var settings = io.mvm.agent.AgentSettings.defaults(io.mvm.model.NodeId.of("flood-" + run),
                new io.mvm.core.placement.Capacity(4, 2048, 10_000), Map.of(), Duration.ofSeconds(1));
        try (var agent = new io.mvm.agent.AgentService(settings, runtime, counting, clock)) {
            agent.start();
            coordinator.want(List.of(new DesiredInstance(new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"),
                    Role.WORKER, 1, 256, 0, new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1),
                    List.of(), Map.of(), Map.of(), Map.of(), "r1"), Target.RUNNING)));
            long end = System.nanoTime() + Duration.ofSeconds(150).toNanos();
            while (coordinator.state(id).filter(InstanceState.RUNNING::equals).isEmpty() && System.nanoTime() < end) {
                Thread.sleep(200);
            }
            assertThat(coordinator.state(id)).hasValue(InstanceState.RUNNING);

            Path log = vms.handle(id.value()).serialLog();
            Path rotated = log.resolveSibling(log.getFileName() + ".1");
            try (var guest = vms.guest(id.value())) {
                assertThat(guest.exec(ExecRequest.of(Duration.ofSeconds(30), "sh", "-c",
                        "setsid sh -c 'while :; do echo " + "y".repeat(200) + "; done' < /dev/null > /dev/console 2>&1 &"))
                        .exitCode()).isZero();
            }
            // Each 3 s window of the flood must see reports (the interval is 1 s) and a running VM.
            for (int window = 0; window < 10 && !(Files.exists(rotated) && window >= 5); window++) {
                int before = reports.get();
                Thread.sleep(3000);
                assertThat(reports.get()).as("reports keep flowing during the flood (window %d)", window)
                        .isGreaterThan(before);
                assertThat(coordinator.state(id)).hasValue(InstanceState.RUNNING);
                assertThat(Files.size(log)).isLessThanOrEqualTo(2 * SerialLog.DEFAULT_CAP);
            }
            assertThat(rotated).as("the flood passed the cap and the agent rotated it").exists();
            assertThat(Files.size(rotated)).isLessThanOrEqualTo(SerialLog.DEFAULT_CAP);
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
