package io.mvm.agent.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.reconcile.GuestHealth;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Health signals: a real process standing in for a VMM is killed; a guest stops answering. */
class HealthMonitorIT {
    static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-11-21T12:00:00Z"));
    static final InstanceId ID = InstanceId.of("w1");

    /** A runtime that only observes: one VM, whose pid and state the test sets. */
    static final class ObservingRuntime implements InstanceRuntime {
        final AtomicReference<LocalVm> vm = new AtomicReference<>();
        final AtomicBoolean guestAnswers = new AtomicBoolean(true);
        final AtomicReference<Error> nextObserveError = new AtomicReference<>();

        @Override
        public List<LocalVm> observe() {
            var error = nextObserveError.getAndSet(null);
            if (error != null) {
                throw error;
            }
            var v = vm.get();
            return v == null ? List.of() : List.of(v);
        }

        final AtomicBoolean workloadExited = new AtomicBoolean(false);

        @Override
        public boolean probeGuest(InstanceId id, Duration timeout) {
            return guestAnswers.get();
        }

        @Override
        public GuestProbe probe(InstanceId id, Duration timeout) {
            return !guestAnswers.get() ? GuestProbe.SILENT
                    : workloadExited.get() ? GuestProbe.WORKLOAD_EXITED : GuestProbe.ANSWERED;
        }

        @Override
        public Accelerator accelerator() {
            return Accelerator.TCG;
        }

        @Override public void create(InstanceSpec spec) { throw new UnsupportedOperationException(); }
        @Override public void start(InstanceSpec spec) { throw new UnsupportedOperationException(); }
        @Override public void pause(InstanceId id) { throw new UnsupportedOperationException(); }
        @Override public void resume(InstanceId id) { throw new UnsupportedOperationException(); }
        @Override public void sleep(InstanceId id, Duration d) { throw new UnsupportedOperationException(); }
        @Override public void wake(InstanceSpec spec) { throw new UnsupportedOperationException(); }
        @Override public void stop(InstanceId id) { throw new UnsupportedOperationException(); }
        @Override public void destroy(InstanceId id) { throw new UnsupportedOperationException(); }
        @Override public Optional<java.nio.file.Path> evict(InstanceId id, String reason) {
            throw new UnsupportedOperationException();
        }
        @Override public void restart(InstanceSpec spec) { throw new UnsupportedOperationException(); }
    }

    static LocalVm vm(VmState state, OptionalLong pid) {
        return new LocalVm(ID, TenantId.of("acme"), Role.WORKER, state, pid, Optional.empty());
    }

    @Test
    void theDeathOfAWatchedVmmProcessEnqueuesTheInstance() throws Exception {
        var runtime = new ObservingRuntime();
        var enqueued = new CopyOnWriteArrayList<InstanceId>();
        var monitor = new HealthMonitor(runtime, new HealthRegistry(2), enqueued::add, new EventOutbox(10), CLOCK,
                Duration.ofMillis(100));
        var process = new ProcessBuilder("sleep", "300").start();
        try {
            runtime.vm.set(vm(VmState.RUNNING, OptionalLong.of(process.pid())));
            monitor.tick();
            assertThat(enqueued).isEmpty();

            process.destroyForcibly();

            await().atMost(Duration.ofSeconds(30)).until(() -> enqueued.contains(ID));
        } finally {
            process.destroyForcibly().waitFor();
        }
    }

    @Test
    void aCrashSeenByTheTickIsReportedOnceAndEnqueued() {
        var runtime = new ObservingRuntime();
        var enqueued = new CopyOnWriteArrayList<InstanceId>();
        var outbox = new EventOutbox(10);
        var monitor = new HealthMonitor(runtime, new HealthRegistry(2), enqueued::add, outbox, CLOCK,
                Duration.ofMillis(100));
        runtime.vm.set(vm(VmState.CRASHED, OptionalLong.empty()));

        monitor.tick();
        monitor.tick();

        assertThat(enqueued).containsExactly(ID);
        assertThat(outbox.peek(10)).singleElement().satisfies(e -> assertThat(e.type()).isEqualTo("vmm-exited"));
    }

    @Test
    void aGuestIsUnresponsiveOnlyAfterConsecutiveFailedProbes() {
        var runtime = new ObservingRuntime();
        var registry = new HealthRegistry(2);
        var enqueued = new CopyOnWriteArrayList<InstanceId>();
        var monitor = new HealthMonitor(runtime, registry, enqueued::add, new EventOutbox(10), CLOCK,
                Duration.ofMillis(100));
        runtime.vm.set(vm(VmState.RUNNING, OptionalLong.empty()));
        runtime.guestAnswers.set(false);

        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.RESPONSIVE);
        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.UNRESPONSIVE);
        assertThat(enqueued).containsExactly(ID);

        runtime.guestAnswers.set(true);
        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.RESPONSIVE);
    }

    @Test
    void aRoundThatThrowsAnErrorDoesNotEndMonitoring() {
        var runtime = new ObservingRuntime();
        var enqueued = new CopyOnWriteArrayList<InstanceId>();
        var monitor = new HealthMonitor(runtime, new HealthRegistry(2), enqueued::add, new EventOutbox(10), CLOCK,
                Duration.ofMillis(100));
        runtime.vm.set(vm(VmState.CRASHED, OptionalLong.empty()));
        runtime.nextObserveError.set(new AssertionError("a bug in the runtime"));

        // Thrown out of tick(), the Error would end HealthMonitor.run()'s loop and with it every
        // later health verdict of the node.
        monitor.tick();
        monitor.tick();

        assertThat(enqueued).containsExactly(ID);
    }

    @Test
    void anExitedWorkloadRestartsOnlyServicesOnceAndAResetForgetsIt() {
        var runtime = new ObservingRuntime();
        var registry = new HealthRegistry(2);
        var enqueued = new CopyOnWriteArrayList<InstanceId>();
        var outbox = new EventOutbox(10);
        var monitor = new HealthMonitor(runtime, registry, enqueued::add, outbox, CLOCK, Duration.ofMillis(100));
        runtime.vm.set(vm(VmState.RUNNING, OptionalLong.empty()));
        runtime.workloadExited.set(true);

        // Not a service (the default): an exited workload is left alone.
        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.RESPONSIVE);
        assertThat(enqueued).isEmpty();

        var service = new AtomicBoolean(true);
        monitor.restartsWorkload(id -> service.get());
        monitor.tick();
        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.WORKLOAD_EXITED);
        assertThat(enqueued).as("enqueued once, not every tick").containsExactly(ID);
        assertThat(outbox.peek(10)).singleElement().satisfies(e -> assertThat(e.type()).isEqualTo("workload-exited"));

        // After the restart (the executor resets the record) the fresh workload runs.
        registry.reset(ID);
        runtime.workloadExited.set(false);
        monitor.tick();
        assertThat(registry.health(ID)).isEqualTo(GuestHealth.RESPONSIVE);
    }
}
