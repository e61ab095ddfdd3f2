package io.mvm.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.PlannerSettings;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's own memory (restart book, unsent events) outlives the agent process: a second agent
 * over the same state dir continues where the first one stopped. (Pure control plane: the runtime
 * here is a map; real VMs prove restarts in LocalAgentLifecycleIT.)
 */
class AgentStatePersistenceIT {
    static final InstanceId ID = InstanceId.of("i-persist1");
    static final DesiredInstance WANTED = new DesiredInstance(new InstanceSpec(ID, TenantId.of("acme"),
            PoolName.of("workers"), Role.WORKER, 1, 256, 0, new NetworkSpec("10.0.0.2", 24, "10.0.0.1",
            Optional.empty(), 1), List.of(), Map.of(), Map.of(), Map.of(), "r1"), Target.RUNNING);

    @TempDir Path stateDir;

    /** VMs in a map; with {@code crashLoop} every boot ends CRASHED at once. */
    static final class MapRuntime implements InstanceRuntime {
        final Map<InstanceId, VmState> vms = new ConcurrentHashMap<>();
        final AtomicInteger restarts = new AtomicInteger();
        final boolean crashLoop;

        MapRuntime(boolean crashLoop) {
            this.crashLoop = crashLoop;
        }

        @Override
        public List<LocalVm> observe() {
            return vms.entrySet().stream().map(e -> new LocalVm(e.getKey(), TenantId.of("acme"), Role.WORKER,
                    e.getValue(), OptionalLong.of(1), Optional.empty())).toList();
        }

        private void boot(InstanceId id) {
            vms.put(id, crashLoop ? VmState.CRASHED : VmState.RUNNING);
        }

        @Override public void create(InstanceSpec spec) {
            boot(spec.id());
        }
        @Override public void start(InstanceSpec spec) {
            boot(spec.id());
        }
        @Override public void pause(InstanceId id) {
            vms.put(id, VmState.WARM);
        }
        @Override public void resume(InstanceId id) {
            boot(id);
        }
        @Override public void sleep(InstanceId id, Duration drainDeadline) {
            vms.put(id, VmState.SLEEPING);
        }
        @Override public void wake(InstanceSpec spec) {
            boot(spec.id());
        }
        @Override public void stop(InstanceId id) {
            vms.put(id, VmState.STOPPED);
        }
        @Override public void destroy(InstanceId id) {
            vms.remove(id);
        }
        @Override public java.util.Optional<java.nio.file.Path> evict(InstanceId id, String reason) {
            vms.remove(id);
            return java.util.Optional.empty();
        }
        @Override public void restart(InstanceSpec spec) {
            restarts.incrementAndGet();
            boot(spec.id());
        }
        @Override public boolean probeGuest(InstanceId id, Duration timeout) {
            return true;
        }
        @Override public Accelerator accelerator() {
            return Accelerator.TCG;
        }
    }

    /** Wants {@link #WANTED}; refuses reports while {@code down}, else keeps them. */
    static final class Coordinator implements CoordinatorClient {
        final List<InstanceReport> reports = new CopyOnWriteArrayList<>();
        final boolean down;

        Coordinator(boolean down) {
            this.down = down;
        }

        List<InstanceEvent> events() {
            return reports.stream().flatMap(r -> r.events().stream()).toList();
        }

        Optional<InstanceReport> last() {
            return reports.isEmpty() ? Optional.empty() : Optional.of(reports.getLast());
        }

        @Override
        public Registration register(NodeRegistration r) {
            return new Registration(r.node(), Optional.empty(), Duration.ofMillis(200));
        }

        @Override
        public void heartbeat(NodeId node, int instanceCount) {}

        @Override
        public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
            if (afterGeneration.isPresent()) {
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw MvmException.unavailable("interrupted", e);
                }
            }
            return DesiredSnapshot.confirmed(1, List.of(WANTED));
        }

        @Override
        public void reportObserved(NodeId node, ObservedReport report) {
            if (down) {
                throw MvmException.unavailable("coordinator down (scripted)", null);
            }
            reports.addAll(report.instances());
        }
    }

    private static AgentSettings settings() {
        var d = AgentSettings.defaults(NodeId.of("persist-node"), new Capacity(4, 4096, 10_000), Map.of(),
                Duration.ofMillis(100));
        return new AgentSettings(d.node(), d.capacity(), d.labels(), 1, Duration.ofMillis(200), Duration.ofMillis(100),
                Duration.ofMillis(100), Duration.ofMillis(100), Duration.ofMillis(50), Duration.ofMillis(100),
                d.probeTimeout(), d.unresponsiveAfter(),
                new ExponentialBackoff(Duration.ofMillis(10), Duration.ofMillis(40)), Duration.ofMinutes(10),
                new ExponentialBackoff(Duration.ofMillis(10), Duration.ofMillis(40)),
                new ExponentialBackoff(Duration.ofMillis(10), Duration.ofMillis(40)),
                new PlannerSettings(2, Duration.ofSeconds(1)));
    }

    private AgentService agent(MapRuntime runtime, Coordinator coordinator) {
        return new AgentService(settings(), runtime, coordinator, InstantSource.system(), Optional.empty(),
                Optional.of(stateDir));
    }

    @Test
    void aGivenUpInstanceStaysFailedAcrossAnAgentRestart() throws Exception {
        var runtime = new MapRuntime(true);
        var first = new Coordinator(false);
        var agent = agent(runtime, first);
        try {
            agent.start();
            // Between restarts the instance is reported FAILED too; only the give-up is the end state.
            await().atMost(Duration.ofSeconds(30)).until(() -> first.last()
                    .filter(r -> r.state() == InstanceState.FAILED)
                    .flatMap(InstanceReport::lastError).filter(e -> e.contains("gave up after 2 restarts")).isPresent());
        } finally {
            agent.close();
        }
        assertThat(runtime.restarts.get()).isEqualTo(2);
        assertThat(stateDir.resolve(AgentService.RESTARTS_FILE)).exists();

        var second = new Coordinator(false);
        agent = agent(runtime, second);
        try {
            agent.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> second.reports.size() >= 5);
            // Several resync passes later: still given up, no restart budget handed out again.
            Thread.sleep(1_000);
            assertThat(runtime.restarts.get()).as("restarts after the agent restart").isEqualTo(2);
            var last = second.last().orElseThrow();
            assertThat(last.state()).isEqualTo(InstanceState.FAILED);
            assertThat(last.lastError()).get().asString().contains("gave up after 2 restarts");
        } finally {
            agent.close();
        }
    }

    @Test
    void eventsNotYetSentAreSentByTheNextAgent() {
        var runtime = new MapRuntime(false);
        var down = new Coordinator(true);
        var agent = agent(runtime, down);
        try {
            agent.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> runtime.vms.get(ID) == VmState.RUNNING);
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    Files.readString(stateDir.resolve(AgentService.OUTBOX_FILE)).contains("\"created\""));
        } finally {
            agent.close();
        }

        var up = new Coordinator(false);
        agent = agent(runtime, up);
        try {
            agent.start();
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    up.events().stream().anyMatch(e -> e.instance().equals(ID) && e.type().equals("created")));
            assertThat(up.events()).extracting(InstanceEvent::type).contains("creating", "created");
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    !Files.readString(stateDir.resolve(AgentService.OUTBOX_FILE)).contains("\"created\""));
        } finally {
            agent.close();
        }
    }
}
