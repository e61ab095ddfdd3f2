package io.mvm.agent.local;

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
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * TWO real QEMU microVMs with data disks, each with a file written through the guest agent. Then
 * the coordinator's desired list omits one (as when it was re-placed while this node was away)
 * and wants the other destroyed. The omitted one's VMM is stopped and its data disk — holding the
 * file, which was never synced by the test, so the graceful stop must have flushed it — is set
 * aside under {@code <data-dir>/orphans/} and reported; the destroyed one leaves nothing. And a
 * sleeping VM that is omitted keeps its snapshot next to its data disk.
 */
class OrphanedDataIT {
    private static final Duration CONVERGE = Duration.ofMinutes(5);

    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final InstanceId moved = InstanceId.of("om1-" + run);
    private final InstanceId deleted = InstanceId.of("od1-" + run);
    private final ScriptedCoordinator coordinator = new ScriptedCoordinator();

    private Path dataDir;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private AgentService agent;

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-orphan-it-");
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), VirtioSerialGuestChannel::connect,
                InstantSource.system()), InstantSource.system());
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
        runtime.recover();
        var d = AgentSettings.defaults(NodeId.of("orphans-" + run), new Capacity(4, 2048, 10_000), Map.of(),
                Duration.ofSeconds(1));
        // Health verdicts are not what this test is about: on a loaded host a probe that loses the
        // guest channel to the test's own exec must not get a VM restarted under it.
        var settings = new AgentSettings(d.node(), d.capacity(), d.labels(), d.workers(), d.longPollWait(),
                d.heartbeatInterval(), d.reportInterval(), d.resyncInterval(), d.waitRecheck(), Duration.ofSeconds(5),
                Duration.ofSeconds(30), 1000, d.restartBackoff(), d.stablePeriod(), d.passBackoff(),
                d.coordinatorBackoff(), d.planner());
        agent = new AgentService(settings, runtime, coordinator, InstantSource.system(), Optional.empty(),
                Optional.of(dataDir.resolve("agent")));
        agent.start();
    }

    @AfterEach
    void cleanUp() {
        if (agent != null) {
            agent.close();
        }
        if (vms != null) {
            for (var id : List.of(moved, deleted)) {
                try {
                    vms.destroy(id.value());
                } catch (RuntimeException ignored) {
                    // not there
                }
            }
        }
        if (dataDir != null) {
            VmHost.killQemusMentioning(dataDir.toString());
        }
        VmHost.deleteTree(dataDir);
    }

    @Test
    void anOmittedInstanceKeepsItsDataAsAnOrphanAndADestroyedOneIsDeleted() throws Exception {
        coordinator.want(List.of(wanted(moved, Target.RUNNING), wanted(deleted, Target.RUNNING)));
        awaitState(moved, VmState.RUNNING);
        awaitState(deleted, VmState.RUNNING);
        writeToData(moved, "kept-" + run);
        writeToData(deleted, "gone-" + run);

        // The coordinator moved `moved` elsewhere (no longer named) and the user deleted `deleted`.
        coordinator.want(List.of(wanted(deleted, Target.DESTROYED)));
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> runtime.observe().isEmpty());

        var orphanDirs = orphanDirectories();
        assertThat(orphanDirs).singleElement()
                .satisfies(d -> assertThat(d.getFileName().toString()).startsWith(moved.value() + "-"));
        var orphan = orphanDirs.getFirst();
        try (Stream<Path> files = Files.list(orphan)) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
                    .as("the data disk and the note; no secrets, sockets or logs")
                    .containsExactly("data.ext4", "orphan.json");
        }
        assertThat(readFromExt4(orphan.resolve("data.ext4"), "/keep.txt")).isEqualTo("kept-" + run);
        assertThat(dataDir.resolve("vms").resolve(moved.value())).doesNotExist();
        assertThat(dataDir.resolve("vms").resolve(deleted.value())).as("destroyed means deleted").doesNotExist();

        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() ->
                coordinator.orphans().map(List::size).orElse(0) == 1);
        assertThat(coordinator.orphans().orElseThrow()).singleElement().satisfies(o -> {
            assertThat(o.instanceId()).isEqualTo(moved.value());
            assertThat(o.path()).isEqualTo(orphan);
            assertThat(o.bytes()).isEqualTo(Files.size(orphan.resolve("data.ext4")));
            assertThat(o.reason()).contains("not in the desired state");
        });
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() ->
                events(moved).contains("orphaned") && events(deleted).contains("destroyed"));
        assertThat(events(moved)).doesNotContain("destroyed");
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
    }

    @Test
    void anOmittedSleepingInstanceKeepsItsSnapshotWithItsDataDisk() throws Exception {
        coordinator.want(List.of(wanted(moved, Target.RUNNING)));
        awaitState(moved, VmState.RUNNING);
        // Synced: a sleeping guest's unsynced writes live only in its snapshot (its memory), which
        // is exactly why the snapshot is kept with the disk; here the disk alone is checked.
        writeToData(moved, "asleep-" + run, true);
        coordinator.want(List.of(wanted(moved, Target.SLEEPING)));
        awaitState(moved, VmState.SLEEPING);
        long snapshotBytes = Files.size(dataDir.resolve("vms").resolve(moved.value()).resolve("snapshot.bin"));

        coordinator.want(List.of());
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> runtime.observe().isEmpty());

        var orphan = orphanDirectories().getFirst();
        try (Stream<Path> files = Files.list(orphan)) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
                    .containsExactly("data.ext4", "orphan.json", "snapshot.bin");
        }
        // The snapshot is the guest's memory, which another node cannot have: it is kept whole.
        assertThat(Files.size(orphan.resolve("snapshot.bin"))).isEqualTo(snapshotBytes);
        assertThat(readFromExt4(orphan.resolve("data.ext4"), "/keep.txt")).isEqualTo("asleep-" + run);
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() ->
                coordinator.orphans().map(List::size).orElse(0) == 1);
        assertThat(coordinator.orphans().orElseThrow().getFirst().bytes())
                .isEqualTo(snapshotBytes + Files.size(orphan.resolve("data.ext4")));
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
    }

    private DesiredInstance wanted(InstanceId id, Target target) {
        return new DesiredInstance(new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1,
                256, 16, new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1), List.of(), Map.of(),
                Map.of("api-token", "s3cret-" + run), Map.of(), "r1"), target);
    }

    /** Written through the guest agent and deliberately not synced: only a graceful stop keeps it. */
    private void writeToData(InstanceId id, String text) {
        writeToData(id, text, false);
    }

    private void writeToData(InstanceId id, String text, boolean sync) {
        try (var guest = vms.guest(id.value())) {
            var result = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "sh", "-c",
                    "grep -q ' /data ' /proc/mounts && printf %s '" + text + "' > /data/keep.txt"
                            + (sync ? " && sync" : "") + " && cat /data/keep.txt"));
            assertThat(result.exitCode()).as(new String(result.stderr(), StandardCharsets.UTF_8)).isZero();
            assertThat(new String(result.stdout(), StandardCharsets.UTF_8)).isEqualTo(text);
        }
    }

    private static String readFromExt4(Path image, String file) throws Exception {
        var p = new ProcessBuilder("debugfs", "-R", "cat " + file, image.toString()).redirectError(
                ProcessBuilder.Redirect.DISCARD).start();
        var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).isZero();
        return out;
    }

    private List<Path> orphanDirectories() throws Exception {
        var root = dataDir.resolve("orphans");
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.sorted().toList();
        }
    }

    private List<String> events(InstanceId id) {
        return coordinator.events(id).stream().map(InstanceEvent::type).toList();
    }

    private void awaitState(InstanceId id, VmState state) {
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                runtime.observe().stream().anyMatch(vm -> vm.id().equals(id) && vm.state() == state));
    }
}
