package io.mvm.agent.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The Nomad rule: a (re)started agent adopts the VMs it finds and neither revives nor kills any of
 * them until the coordinator has answered once; then it converges to exactly what it was told.
 */
class AgentAdoptionIT {
    final SimClock clock = new SimClock();
    final NodeId node = NodeId.of("node-a");

    static InstanceSpec spec(String id) {
        return new InstanceSpec(InstanceId.of(id), TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1, 256,
                0, new NetworkSpec("10.240.0.9", 24, "10.240.0.1", Optional.empty(), 1), List.of(), Map.of(),
                Map.of(), Map.of(), "r1");
    }

    @Test
    void doesNothingUntilTheCoordinatorAnswersThenEvictsWhatItDoesNotWant() {
        var runtime = new FakeRuntime(node, clock, 7);
        runtime.create(spec("old-1"));
        runtime.create(spec("old-2"));
        runtime.crash(InstanceId.of("old-2"));
        var coordinator = new FakeCoordinator(clock, Duration.ofSeconds(30));
        coordinator.restart();
        var settings = AgentSettings.defaults(node, new Capacity(4, 4096, 10_000), Map.of(), Duration.ofMillis(100));

        try (var agent = new AgentService(settings, runtime, coordinator.client(), clock)) {
            agent.start();
            FleetSimulationIT.sleep(Duration.ofMillis(800));
            assertThat(agent.desiredGeneration()).isEmpty();
            assertThat(runtime.states()).isEqualTo(Map.of(
                    InstanceId.of("old-1"), VmState.RUNNING, InstanceId.of("old-2"), VmState.CRASHED));
            assertThat(runtime.journal).extracting(FakeRuntime.Op::verb).containsExactly("create", "create");

            coordinator.cameBack();

            await().atMost(Duration.ofSeconds(60)).until(() -> runtime.states().isEmpty());
            assertThat(agent.desiredGeneration()).isPresent();
            assertThat(runtime.journal).extracting(FakeRuntime.Op::verb)
                    .containsExactly("create", "create", "evict", "evict");
        }
    }
}
