package io.mvm.agent.idle;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.proxy.TrafficMeter;
import io.mvm.agent.queue.PassResult;
import io.mvm.agent.reconcile.DesiredStateHolder;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The idle controller's bookkeeping with a manual clock and a runtime that only reports states
 * (the VMM's CPU is read from a real idle process, {@code sleep}): idling with a reason, the
 * overlay the reconciler plans against, one shared wake completed or failed by the next pass, the
 * coordinator's other intents dropping the overlay, and the overlay surviving a restart.
 */
class IdleControllerTest {
    private static final InstanceId ID = InstanceId.of("i-1");
    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-12-03T12:00:00Z"));
    private final InstantSource clock = () -> now.get();
    private final AtomicReference<VmState> state = new AtomicReference<>(VmState.RUNNING);
    private final List<InstanceId> enqueued = new ArrayList<>();
    private final EventOutbox outbox = new EventOutbox(100);
    private final DesiredStateHolder desired = new DesiredStateHolder();
    private final TrafficMeter meter = new TrafficMeter(clock);
    private Process idleProcess;
    @TempDir Path dir;

    @BeforeEach
    void idleProcess() throws Exception {
        idleProcess = new ProcessBuilder("sleep", "600").start();
    }

    @AfterEach
    void stop() {
        idleProcess.destroyForcibly();
    }

    private IdleController controller() {
        return new IdleController(desired, new StatesOnly(), meter, outbox, clock, enqueued::add, Optional.of(dir));
    }

    private static DesiredInstance wanted(Target target, boolean policy) {
        var spec = new InstanceSpec(ID, TenantId.of("t"), PoolName.of("p"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), List.of(), Map.of(), Map.of(),
                Map.of(), "r1");
        var idle = new IdlePolicy(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(5), 0.5);
        return new DesiredInstance(spec, target, new Exposure(List.of(PortMapping.tcp(80, 0)),
                policy ? Optional.of(idle) : Optional.empty()));
    }

    private void advance(int seconds) {
        now.set(now.get().plusSeconds(seconds));
    }

    private List<String> events(String type) {
        return outbox.peek(100).stream().filter(e -> e.type().equals(type)).map(InstanceEvent::message).toList();
    }

    @Test
    void trafficOnTheGuestsOwnLinkKeepsItUpAndNoiseDoesNot() {
        desired.install(DesiredSnapshot.confirmed(1, List.of(wanted(Target.RUNNING, true))));
        var idle = controller();
        String tap = io.mvm.core.netpolicy.DeviceNames.tap(ID);
        var bytes = new java.util.concurrent.atomic.AtomicLong(50_000);
        idle.linkCounters(() -> Map.of(tap, bytes.get(), "lo", 1L));
        idle.tick(); // first CPU sample and link baseline: no activity from what came before
        for (int i = 0; i < 4; i++) {
            advance(5);
            bytes.addAndGet(IdleController.LINK_NOISE_BYTES + 1); // peers talking to it directly
            idle.tick();
        }
        assertThat(idle.idled(ID)).as("20 s without route traffic, but its tap was busy").isFalse();
        for (int i = 0; i < 2; i++) {
            advance(4);
            bytes.addAndGet(IdleController.LINK_NOISE_BYTES / 4); // ARP and the like
            idle.tick();
        }
        assertThat(idle.idled(ID)).as("8 s of noise only").isFalse();
        advance(3);
        idle.tick();
        assertThat(idle.idledAs(ID)).as("11 s since the tap last carried traffic").contains(Target.WARM);
    }

    @Test
    void procNetDevIsReadAsReceivedPlusSentBytes() {
        var parsed = LinkCounters.parse("""
                Inter-|   Receive                                                |  Transmit
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                    lo: 4146680505 4562231    0    0    0     0          0         0 4146680505 4562231    0    0    0     0       0          0
                mvp-0a1b2c3d4e5:    1200      10    0    0    0     0          0         0      800       7    0    0    0     0       0          0
                """);
        assertThat(parsed).containsEntry("mvp-0a1b2c3d4e5", 2000L).containsEntry("lo", 8293361010L).hasSize(2);
    }

    @Test
    void idlesWarmThenSleepingWakesOnceAndKeepsTheOverlayAcrossARestart() throws Exception {
        desired.install(DesiredSnapshot.confirmed(1, List.of(wanted(Target.RUNNING, true))));
        var idle = controller();
        idle.tick(); // first CPU sample
        advance(9);
        idle.tick();
        assertThat(idle.idled(ID)).isFalse();
        advance(2);
        idle.tick();
        assertThat(idle.idledAs(ID)).contains(Target.WARM);
        assertThat(desired.current().instances().getFirst().target()).isEqualTo(Target.WARM);
        assertThat(desired.coordinator().instances().getFirst().target()).isEqualTo(Target.RUNNING);
        assertThat(events("idled")).singleElement().satisfies(m -> assertThat(m).matches(
                "idle 11 s, 0 bytes, cpu 0\\.0 % → warm"));
        assertThat(enqueued).containsExactly(ID);

        state.set(VmState.WARM);
        advance(20);
        idle.tick();
        assertThat(idle.idledAs(ID)).contains(Target.SLEEPING);
        assertThat(events("idled").get(1)).endsWith("→ sleeping");
        state.set(VmState.SLEEPING);

        // A restarted agent keeps the instance idled: the reconciler must not wake it.
        var again = controller();
        assertThat(again.idledAs(ID)).contains(Target.SLEEPING);
        assertThat(desired.current().instances().getFirst().target()).isEqualTo(Target.SLEEPING);

        // Two connections, one wake; the future completes after a pass that finds it running.
        var first = again.wake(ID, "connection 1");
        var second = again.wake(ID, "connection 2");
        assertThat(second).isSameAs(first);
        assertThat(again.wakes(ID)).isEqualTo(1);
        assertThat(desired.current().instances().getFirst().target()).isEqualTo(Target.RUNNING);
        again.passFinished(ID, PassResult.requeueAfter(Duration.ZERO));
        assertThat(first).isNotDone();
        state.set(VmState.RUNNING);
        again.passFinished(ID, PassResult.done());
        assertThat(first).isCompleted();
        assertThat(again.wake(ID, "connection 3")).isCompleted();
        assertThat(events("wake-requested")).singleElement().satisfies(m -> assertThat(m).contains("connection 1"));
        assertThat(Files.readString(dir.resolve(IdleController.FILE))).isEmpty();

        // min_runtime counts from the wake: nothing happens for 5 s even without traffic.
        again.tick();
        advance(4);
        again.tick();
        assertThat(again.idled(ID)).isFalse();
    }

    @Test
    void aFailedPassFailsTheWakeAndTrafficOrOtherIntentKeepsItUp() {
        desired.install(DesiredSnapshot.confirmed(1, List.of(wanted(Target.RUNNING, true))));
        var idle = controller();
        idle.tick();
        advance(11);
        idle.tick();
        assertThat(idle.idledAs(ID)).contains(Target.WARM);
        state.set(VmState.WARM);
        var wake = idle.wake(ID, "connection");
        idle.passFinished(ID, PassResult.failed(MvmException.precondition("no snapshot")));
        assertThat(wake).isCompletedExceptionally();
        assertThat(events("wake-failed")).singleElement().satisfies(m -> assertThat(m).contains("no snapshot"));

        // The coordinator wants it warm by its counts now: the policy does not touch it.
        desired.install(DesiredSnapshot.confirmed(2, List.of(wanted(Target.WARM, true))));
        advance(100);
        idle.tick();
        assertThat(idle.idled(ID)).isFalse();
        // An exec running in the guest keeps it up like an open connection.
        desired.install(DesiredSnapshot.confirmed(3, List.of(wanted(Target.RUNNING, true))));
        state.set(VmState.RUNNING);
        var execs = new java.util.concurrent.atomic.AtomicInteger(1);
        idle.backgroundWork(id -> execs.get());
        idle.tick();
        advance(100);
        idle.tick();
        assertThat(idle.idled(ID)).isFalse();
        execs.set(0);
        advance(1);
        idle.tick();
        assertThat(idle.idledAs(ID)).contains(Target.SLEEPING);
        // Without a policy nothing is idled either.
        state.set(VmState.RUNNING);
        desired.install(DesiredSnapshot.confirmed(4, List.of(wanted(Target.RUNNING, false))));
        idle.tick();
        advance(100);
        idle.tick();
        assertThat(idle.idled(ID)).isFalse();
    }

    /** Reports the test's state for the one instance, with a real idle process as its VMM. */
    private final class StatesOnly implements InstanceRuntime {
        @Override
        public List<LocalVm> observe() {
            return List.of(new LocalVm(ID, TenantId.of("t"), Role.WORKER, state.get(),
                    OptionalLong.of(idleProcess.pid()), Optional.empty()));
        }

        @Override
        public void create(InstanceSpec spec) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void start(InstanceSpec spec) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void pause(InstanceId id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void resume(InstanceId id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void sleep(InstanceId id, Duration drainDeadline) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void wake(InstanceSpec spec) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void stop(InstanceId id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void destroy(InstanceId id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Path> evict(InstanceId id, String reason) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void restart(InstanceSpec spec) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean probeGuest(InstanceId id, Duration timeout) {
            return true;
        }

        @Override
        public Accelerator accelerator() {
            return Accelerator.TCG;
        }
    }
}
