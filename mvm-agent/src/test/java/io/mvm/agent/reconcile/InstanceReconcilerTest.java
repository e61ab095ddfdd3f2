package io.mvm.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.health.HealthRegistry;
import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.agent.queue.PassResult;
import io.mvm.agent.runtime.InstanceRuntime;
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
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class InstanceReconcilerTest {
    static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-11-21T12:00:00Z"));
    static final InstanceId ID = InstanceId.of("w1");

    /** Says yes to every pause, but the VM stays running. */
    static final class StuckRuntime implements InstanceRuntime {
        final List<String> calls = new ArrayList<>();

        @Override
        public List<LocalVm> observe() {
            return List.of(new LocalVm(ID, TenantId.of("acme"), Role.WORKER, VmState.RUNNING, OptionalLong.empty(),
                    Optional.empty()));
        }

        @Override public void pause(InstanceId id) { calls.add("pause"); }
        @Override public void create(InstanceSpec spec) { calls.add("create"); }
        @Override public void start(InstanceSpec spec) { calls.add("start"); }
        @Override public void resume(InstanceId id) { calls.add("resume"); }
        @Override public void sleep(InstanceId id, Duration d) { calls.add("sleep"); }
        @Override public void wake(InstanceSpec spec) { calls.add("wake"); }
        @Override public void stop(InstanceId id) { calls.add("stop"); }
        @Override public void destroy(InstanceId id) { calls.add("destroy"); }
        @Override public Optional<java.nio.file.Path> evict(InstanceId id, String reason) {
            calls.add("evict");
            return Optional.empty();
        }
        @Override public void restart(InstanceSpec spec) { calls.add("restart"); }
        @Override public boolean probeGuest(InstanceId id, Duration timeout) { return true; }
        @Override public Accelerator accelerator() { return Accelerator.TCG; }
    }

    static DesiredInstance warm() {
        return new DesiredInstance(new InstanceSpec(ID, TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1,
                256, 0, new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), List.of(), Map.of(),
                Map.of(), Map.of(), "r1"), Target.WARM);
    }

    InstanceReconciler reconciler(DesiredStateHolder desired, InstanceRuntime runtime, EventOutbox outbox) {
        var health = new HealthRegistry(2);
        var restarts = new RestartBook(new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofSeconds(8)),
                Duration.ofMinutes(1));
        var executor = new StepExecutor(runtime, restarts, health, outbox, CLOCK);
        return new InstanceReconciler(desired, runtime, new ReconcilePlanner(PlannerSettings.DEFAULTS), executor,
                restarts, health, outbox, CLOCK, Duration.ofSeconds(1), (id, tenant) -> { });
    }

    @Test
    void doesNothingBeforeTheCoordinatorConfirmed() {
        var runtime = new StuckRuntime();
        var result = reconciler(new DesiredStateHolder(), runtime, new EventOutbox(10)).reconcile(ID);
        assertThat(result).isEqualTo(PassResult.done());
        assertThat(runtime.calls).isEmpty();
    }

    @Test
    void aRuntimeThatNeverGetsThereEndsInAFailedPassInsteadOfSpinning() {
        var runtime = new StuckRuntime();
        var desired = new DesiredStateHolder();
        desired.install(DesiredSnapshot.confirmed(1, List.of(warm())));
        var outbox = new EventOutbox(10);
        var r = reconciler(desired, runtime, outbox);

        var results = new ArrayList<PassResult>();
        for (int i = 0; i < 4; i++) {
            results.add(r.reconcile(ID));
        }

        assertThat(results.subList(0, 3)).containsOnly(PassResult.requeueAfter(Duration.ZERO));
        assertThat(results.get(3)).isInstanceOf(PassResult.Failed.class);
        assertThat(runtime.calls).containsExactly("pause", "pause", "pause");
        assertThat(outbox.peek(10)).extracting(e -> e.type()).containsExactly("paused", "paused", "paused", "error");
    }
}
