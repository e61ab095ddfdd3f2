package io.mvm.agent.local;

import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.vm.LocalVms;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.core.fence.SelfFence;
import io.mvm.model.InstanceState;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.MvmException;
import java.util.OptionalLong;

/**
 * A real QEMU microVM on an agent that loses every coordinator: after its lease (3 s here) it
 * starts nothing new, after the further delay (2 s) it pauses the VM (the VMM stays, its memory
 * too), and when the coordinator answers again it resumes it: a marker in the guest's tmpfs
 * /tmp is still there, so it was paused and resumed, not rebooted.
 */
class SelfFenceVmIT {
    private static final Duration CONVERGE = Duration.ofMinutes(4);

    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final InstanceId id = InstanceId.of("sf1-" + run);
    private final ScriptedCoordinator coordinator = new ScriptedCoordinator();
    private volatile boolean cut;

    private Path dataDir;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private AgentService agent;

    /** The scripted coordinator behind a switch: while cut, every call (also one already waiting) fails. */
    private final CoordinatorClient partitionable = new CoordinatorClient() {
        private <T> T reach(java.util.function.Supplier<T> call) {
            if (cut) {
                throw MvmException.unavailable("partitioned by the test", null);
            }
            T result = call.get();
            if (cut) {
                throw MvmException.unavailable("partitioned by the test", null);
            }
            return result;
        }

        @Override
        public Registration register(NodeRegistration r) {
            return reach(() -> coordinator.register(r));
        }

        @Override
        public void heartbeat(NodeId node, int instanceCount) {
            reach(() -> {
                coordinator.heartbeat(node, instanceCount);
                return null;
            });
        }

        @Override
        public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
            // Short polls, so a partition is noticed by the next call rather than a long wait's end.
            return reach(() -> coordinator.desired(node, afterGeneration, Duration.ofMillis(500)));
        }

        @Override
        public void reportObserved(NodeId node, ObservedReport report) {
            reach(() -> {
                coordinator.reportObserved(node, report);
                return null;
            });
        }
    };

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-selffence-it-");
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), VirtioSerialGuestChannel::connect,
                InstantSource.system()), InstantSource.system());
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
        runtime.recover();
        var d = AgentSettings.defaults(NodeId.of("selffence-" + run), new Capacity(4, 2048, 10_000), Map.of(),
                Duration.ofSeconds(1));
        // Health verdicts are not what this test is about (a paused guest does not answer probes).
        var settings = new AgentSettings(d.node(), d.capacity(), d.labels(), d.workers(), d.longPollWait(),
                d.heartbeatInterval(), d.reportInterval(), d.resyncInterval(), d.waitRecheck(), Duration.ofSeconds(5),
                Duration.ofSeconds(30), 1000, d.restartBackoff(), d.stablePeriod(), d.passBackoff(),
                new io.mvm.agent.queue.ExponentialBackoff(Duration.ofMillis(200), Duration.ofSeconds(1)), d.planner());
        agent = new AgentService(settings, runtime, partitionable, InstantSource.system(), Optional.empty(),
                Optional.of(dataDir.resolve("agent")))
                .selfFence(new SelfFence(Duration.ofSeconds(3), Duration.ofSeconds(2)));
        agent.start();
    }

    @AfterEach
    void cleanUp() {
        if (agent != null) {
            agent.close();
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
    void aPartitionedAgentPausesItsVmAndResumesItOnReconnect() throws Exception {
        coordinator.want(List.of(new DesiredInstance(new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"),
                Role.WORKER, 1, 256, 0, new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1), List.of(),
                Map.of(), Map.of(), Map.of(), "r1"), Target.RUNNING)));
        awaitState(VmState.RUNNING);
        try (var guest = vms.guest(id.value())) {
            var r = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "sh", "-c",
                    "echo before-" + run + " > /tmp/marker"));
            assertThat(r.exitCode()).isZero();
        }

        cut = true;
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(200))
                .until(() -> agent.fence().stage() == SelfFence.Stage.PAUSED);
        awaitState(VmState.WARM);
        assertThat(vms.status(id.value()).state()).isEqualTo(InstanceState.WARM);
        assertThat(VmHost.processesMentioning(dataDir.toString())).as("paused, not stopped").hasSize(1);

        cut = false;
        awaitState(VmState.RUNNING);
        assertThat(agent.fence().stage()).isEqualTo(SelfFence.Stage.CONNECTED);
        try (var guest = vms.guest(id.value())) {
            var r = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "cat", "/tmp/marker"));
            assertThat(new String(r.stdout(), java.nio.charset.StandardCharsets.UTF_8).strip())
                    .as("the guest kept its memory: resumed, not rebooted").isEqualTo("before-" + run);
        }
        await().atMost(Duration.ofSeconds(30)).until(() ->
                coordinator.events(id).stream().anyMatch(e -> e.type().equals("paused")));
    }

    private void awaitState(VmState state) {
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(500)).until(() ->
                runtime.observe().stream().anyMatch(vm -> vm.id().equals(id) && vm.state() == state));
    }
}
