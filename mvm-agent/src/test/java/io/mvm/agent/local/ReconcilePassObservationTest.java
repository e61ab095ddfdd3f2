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
import io.mvm.runtime.backend.Capabilities;
import io.mvm.runtime.backend.Fingerprint;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.vm.LocalVms;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one reconcile pass costs in VMM status checks, and what it makes of a VM whose state could
 * not be read. Pure control-plane logic over the real {@link LocalInstanceRuntime} and
 * {@link LocalVms}, with a backend that only counts (real-VM behaviour: {@code QmpSilenceIT}).
 */
class ReconcilePassObservationTest {
    static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-12-03T10:00:00Z"));
    static final int VMS = 8;

    @TempDir
    Path dataDir;

    /** Starts VMs as "running" records; every status check is counted and answered as scripted. */
    static final class CountingBackend implements HypervisorBackend {
        final AtomicInteger checks = new AtomicInteger();
        volatile InstanceState answer = InstanceState.RUNNING;

        @Override public String name() { return "counting"; }
        @Override public Capabilities capabilities() {
            return new Capabilities(false, false, Capabilities.GuestChannelKind.VIRTIO_SERIAL, false, false,
                    Set.of(Accelerator.TCG));
        }
        @Override public Fingerprint fingerprint() { return new Fingerprint(name(), "0", Accelerator.TCG, "test"); }
        @Override public void validate(VmSpec spec) { }

        @Override
        public VmHandle start(VmSpec spec, Path vmDir, HandleJournal journal) {
            var self = VmmProcess.of(ProcessHandle.current().pid()).orElseThrow();
            var handle = new VmHandle(VmHandle.SCHEMA_VERSION, spec.name().value(), name(), Accelerator.TCG,
                    InstanceState.RUNNING, null, self.pid(), self.startTicks(), vmDir, vmDir.resolve("ctl.sock"),
                    vmDir.resolve("agent.sock"), vmDir.resolve("serial.log"), null, null, null, CLOCK.instant());
            journal.record(handle);
            return handle;
        }

        @Override
        public VmHandle recover(VmHandle handle, HandleJournal journal) {
            checks.incrementAndGet();
            return handle.withState(answer, answer == InstanceState.UNKNOWN ? "monitor did not answer" : null,
                    CLOCK.instant());
        }

        @Override public VmHandle stop(VmHandle handle, Duration grace, HandleJournal journal) {
            throw new AssertionError("nothing may be stopped here");
        }
        @Override public void destroy(VmHandle handle) { throw new AssertionError("nothing may be destroyed here"); }
        @Override public GuestChannel guestChannel(VmHandle handle) { throw new UnsupportedOperationException(); }
    }

    record Node(CountingBackend backend, LocalInstanceRuntime runtime, InstanceReconciler reconciler,
                List<InstanceId> ids) {}

    Node node(Target target) throws Exception {
        var image = dataDir.resolve("image");
        Files.createDirectories(image);
        for (var f : List.of("vmlinuz", "initramfs.cpio.gz", "rootfs.ext4")) {
            Files.writeString(image.resolve(f), "x");
        }
        var guestImage = new GuestImage("test", image.resolve("vmlinuz"), image.resolve("initramfs.cpio.gz"),
                image.resolve("rootfs.ext4"), "6.1", "console=ttyS0");
        var backend = new CountingBackend();
        var runtime = new LocalInstanceRuntime(new LocalVms(dataDir, backend, CLOCK), guestImage,
                new AgentNetwork.None(), dataDir);
        var desired = new ArrayList<DesiredInstance>();
        var ids = new ArrayList<InstanceId>();
        for (int i = 0; i < VMS; i++) {
            var spec = new InstanceSpec(InstanceId.of("w" + i), TenantId.of("acme"), PoolName.of("workers"),
                    Role.WORKER, 1, 256, 0, new NetworkSpec("10.0.0." + (i + 2), 24, "10.0.0.1", Optional.empty(), 1),
                    List.of(), Map.of(), Map.of(), Map.of(), "r1");
            runtime.create(spec);
            desired.add(new DesiredInstance(spec, target));
            ids.add(spec.id());
        }
        var holder = new DesiredStateHolder();
        holder.install(DesiredSnapshot.confirmed(1, target == Target.DESTROYED ? List.of() : desired));
        var outbox = new EventOutbox(100);
        var health = new HealthRegistry(2);
        var restarts = new RestartBook(new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofSeconds(8)),
                Duration.ofMinutes(1));
        var reconciler = new InstanceReconciler(holder, runtime, new ReconcilePlanner(PlannerSettings.DEFAULTS),
                new StepExecutor(runtime, restarts, health, outbox, CLOCK), restarts, health, outbox, CLOCK,
                Duration.ofSeconds(1), (id, tenant) -> { });
        backend.checks.set(0);
        return new Node(backend, runtime, reconciler, ids);
    }

    @Test
    void aPassOverEveryInstanceChecksEachVmOnceNotOncePerPeer() throws Exception {
        var node = node(Target.RUNNING);

        for (var id : node.ids()) {
            assertThat(node.reconciler().reconcile(id)).isEqualTo(PassResult.done());
        }

        // A resync enqueues every instance; observing the whole node in every pass made that
        // VMS * VMS status queries (64 here), each a QMP round trip to a VMM.
        assertThat(node.backend().checks.get()).isEqualTo(VMS);
    }

    @Test
    void aVmWhoseStateCouldNotBeReadIsWaitedOnNotRestarted() throws Exception {
        var node = node(Target.RUNNING);
        node.backend().answer = InstanceState.UNKNOWN;
        var id = node.ids().getFirst();

        assertThat(node.runtime().observe(id)).filteredOn(vm -> vm.id().equals(id))
                .singleElement().satisfies(vm -> assertThat(vm.state()).isEqualTo(VmState.UNKNOWN));
        var result = node.reconciler().reconcile(id);

        // The backend throws on stop and destroy: reaching here means nothing was torn down.
        assertThat(result).isInstanceOf(PassResult.RequeueAfter.class);
    }

    @Test
    void aVmWhoseStateCouldNotBeReadIsNotRemovedWhenTheDesiredStateOmitsIt() throws Exception {
        var node = node(Target.DESTROYED);
        node.backend().answer = InstanceState.UNKNOWN;

        for (var id : node.ids()) {
            assertThat(node.reconciler().reconcile(id)).isInstanceOf(PassResult.RequeueAfter.class);
        }
    }
}
