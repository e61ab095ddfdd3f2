package io.mvm.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Heartbeats are the node's liveness signal: they must keep flowing while a VMM monitor hangs
 * (observe() stuck for its 30 s QMP timeout), and follow the coordinator's requested interval.
 */
class HeartbeatIT {

    /** One VM whose observe() blocks, once {@link #hang()} is called, until the test releases it. */
    static final class HangingRuntime implements InstanceRuntime {
        private final CountDownLatch release = new CountDownLatch(1);
        private volatile boolean hanging;

        void hang() {
            hanging = true;
        }

        void release() {
            release.countDown();
        }

        @Override
        public List<LocalVm> observe() {
            if (hanging) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return List.of(new LocalVm(InstanceId.of("i-hb1"), TenantId.of("acme"), Role.WORKER, VmState.RUNNING,
                    OptionalLong.of(1), Optional.empty()));
        }

        @Override public void create(InstanceSpec spec) {}
        @Override public void start(InstanceSpec spec) {}
        @Override public void pause(InstanceId id) {}
        @Override public void resume(InstanceId id) {}
        @Override public void sleep(InstanceId id, Duration drainDeadline) {}
        @Override public void wake(InstanceSpec spec) {}
        @Override public void stop(InstanceId id) {}
        @Override public void destroy(InstanceId id) {}
        @Override public java.util.Optional<java.nio.file.Path> evict(InstanceId id, String reason) {
            return java.util.Optional.empty();
        }
        @Override public void restart(InstanceSpec spec) {}
        @Override public boolean probeGuest(InstanceId id, Duration timeout) {
            return true;
        }
        @Override public Accelerator accelerator() {
            return Accelerator.TCG;
        }
    }

    /** Answers registration with the given heartbeat interval and records every heartbeat's count. */
    static final class CountingCoordinator implements CoordinatorClient {
        final List<Integer> heartbeats = new CopyOnWriteArrayList<>();
        private final Duration asked;

        CountingCoordinator(Duration asked) {
            this.asked = asked;
        }

        @Override
        public Registration register(NodeRegistration r) {
            return new Registration(r.node(), Optional.empty(), asked);
        }

        @Override
        public void heartbeat(NodeId node, int instanceCount) {
            heartbeats.add(instanceCount);
        }

        @Override
        public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
            try {
                Thread.sleep(afterGeneration.isPresent() ? wait : Duration.ZERO);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw MvmException.unavailable("interrupted", e);
            }
            return DesiredSnapshot.confirmed(1, List.of());
        }

        @Override
        public void reportObserved(NodeId node, ObservedReport report) {}
    }

    private static AgentSettings settings(Duration heartbeat) {
        var d = AgentSettings.defaults(NodeId.of("hb-node"), new Capacity(4, 4096, 10_000), Map.of(), heartbeat);
        return new AgentSettings(d.node(), d.capacity(), d.labels(), 1, Duration.ofMillis(200), heartbeat,
                Duration.ofMillis(100), Duration.ofMillis(100), d.waitRecheck(), Duration.ofMillis(100),
                d.probeTimeout(), d.unresponsiveAfter(), d.restartBackoff(), d.stablePeriod(), d.passBackoff(),
                d.coordinatorBackoff(), d.planner());
    }

    @Test
    void aHangingObserveDoesNotStopHeartbeats() {
        var runtime = new HangingRuntime();
        var coordinator = new CountingCoordinator(Duration.ofMillis(100));
        var agent = new AgentService(settings(Duration.ofMillis(100)), runtime, coordinator, InstantSource.system());
        try {
            agent.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> coordinator.heartbeats.size() >= 2);
            runtime.hang();
            // Give the report/resync/health loops time to get stuck in observe().
            int before = coordinator.heartbeats.size();
            await().atMost(Duration.ofSeconds(30)).until(() -> coordinator.heartbeats.size() >= before + 20);
            assertThat(coordinator.heartbeats).as("the count cached from the last observe").allMatch(n -> n == 1);
        } finally {
            runtime.release();
            agent.close();
        }
    }

    @Test
    void theCoordinatorsShorterIntervalWins() {
        var runtime = new HangingRuntime();
        var coordinator = new CountingCoordinator(Duration.ofMillis(100));
        // Our own interval is an hour: only the coordinator's 100 ms can produce several heartbeats.
        var agent = new AgentService(settings(Duration.ofHours(1)), runtime, coordinator, InstantSource.system());
        try {
            agent.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> coordinator.heartbeats.size() >= 5);
            assertThat(agent.heartbeatInterval()).isEqualTo(Duration.ofMillis(100));
        } finally {
            runtime.release();
            agent.close();
        }
    }

    @Test
    void defaultsCapHeartbeatsWellUnderTheNodeTimeout() {
        var s = AgentSettings.defaults(NodeId.of("hb-node"), new Capacity(4, 4096, 10_000), Map.of(),
                Duration.ofMinutes(10));
        assertThat(s.heartbeatInterval()).isLessThanOrEqualTo(Duration.ofSeconds(10));
        assertThat(s.reportInterval()).isEqualTo(Duration.ofMinutes(10));
    }
}
