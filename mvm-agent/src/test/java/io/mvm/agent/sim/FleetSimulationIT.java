package io.mvm.agent.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.core.placement.Capacity;
import io.mvm.core.placement.NodeStatus;
import io.mvm.core.reconcile.PlannerSettings;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Control-plane proof in one JVM: three agents with in-memory runtimes, one in-memory coordinator
 * using the real placement and pool-target functions, and a simulation clock. Real threads, real
 * work queues, real planner; only VMs and HTTP are simulated. Real-VM tests live with the
 * integration of the QEMU runtime.
 */
class FleetSimulationIT {
    static final Duration CONVERGE = Duration.ofSeconds(60);
    static final List<NodeId> NODES = List.of(NodeId.of("node-a"), NodeId.of("node-b"), NodeId.of("node-c"));

    final SimClock clock = new SimClock();
    final FakeCoordinator coordinator = new FakeCoordinator(clock, Duration.ofSeconds(30));
    final Map<NodeId, FakeRuntime> runtimes = new TreeMap<>();
    final Map<NodeId, AgentService> agents = new TreeMap<>();

    @BeforeEach
    void startFleet() {
        long seed = 42;
        for (var node : NODES) {
            runtimes.put(node, new FakeRuntime(node, clock, seed++));
            startAgent(node);
        }
        coordinator.createPool("acme/gateways", Role.GATEWAY, new Capacity(1, 512, 1024));
        coordinator.createPool("acme/workers", Role.WORKER, new Capacity(2, 1024, 2048));
        coordinator.createPool("beta/workers", Role.WORKER, new Capacity(1, 256, 512));
        await().atMost(CONVERGE).until(() -> coordinator.readyNodes() == NODES.size());
    }

    @AfterEach
    void stopFleet() {
        agents.values().forEach(AgentService::close);
        agents.clear();
    }

    void startAgent(NodeId node) {
        var settings = new AgentSettings(node, new Capacity(16, 16_384, 100_000), Map.of(), 4,
                Duration.ofSeconds(1), Duration.ofMillis(100), Duration.ofMillis(100), Duration.ofSeconds(2),
                Duration.ofMillis(200), Duration.ofMillis(100), Duration.ofMillis(50), 2,
                new ExponentialBackoff(Duration.ofMillis(50), Duration.ofMillis(400)), Duration.ofMinutes(5),
                new ExponentialBackoff(Duration.ofMillis(20), Duration.ofMillis(500)),
                new ExponentialBackoff(Duration.ofMillis(20), Duration.ofMillis(200)),
                new PlannerSettings(3, Duration.ofSeconds(1)));
        var agent = new AgentService(settings, runtimes.get(node), coordinator.client(), clock);
        agents.put(node, agent);
        agent.start();
    }

    /** kill -9: the agent's threads stop mid-whatever; the runtime (VMMs, handles) stays. */
    void killAgent(NodeId node) {
        agents.remove(node).close();
    }

    @Test
    void scaleUpReachesExactCountsWithGatewaysRunningBeforeWorkersOnEachNode() {
        coordinator.scale("acme/gateways", 3, 0, 0);
        coordinator.scale("acme/workers", 6, 0, 0);
        coordinator.scale("beta/workers", 4, 0, 0);

        awaitConverged();

        // Placement spread one gateway per node; on each node, acme's workers were created only
        // after that node's gateway was up (beta has no gateway, so nothing holds it back).
        for (var node : NODES) {
            var journal = runtimes.get(node).journal;
            var gatewayUp = journal.stream()
                    .filter(op -> op.role() == Role.GATEWAY && op.verb().equals("create")).toList();
            assertThat(gatewayUp).as("gateways on %s", node).hasSize(1);
            journal.stream().filter(op -> op.tenant().value().equals("acme") && op.role() == Role.WORKER)
                    .forEach(op -> assertThat(op.started()).as("%s on %s", op, node)
                            .isAfterOrEqualTo(gatewayUp.getFirst().ended()));
        }
        // The same order as the coordinator sees it, from the reported event timestamps.
        var instances = coordinator.instances();
        await().atMost(CONVERGE).untilAsserted(() -> {
            for (var node : NODES) {
                var created = coordinator.events.stream()
                        .filter(e -> e.node().equals(node) && e.event().type().equals("created"))
                        .map(FakeCoordinator.NodeEvent::event).toList();
                var gatewayCreated = created.stream()
                        .filter(e -> instances.get(e.instance()).pool.role() == Role.GATEWAY).findFirst()
                        .orElseThrow();
                assertThat(created.stream().filter(e -> instances.get(e.instance()).pool.ref()
                        .equals(PoolRef.parse("acme/workers"))).toList())
                        .hasSize(2)
                        .allSatisfy(e -> assertThat(e.time()).isAfter(gatewayCreated.time()));
            }
        });
        assertThat(countOf("acme/workers", VmState.RUNNING)).isEqualTo(6);
        assertThat(perNodeCount("acme/workers").values()).containsOnly(2);
        assertThat(perNodeCount("beta/workers").values()).allSatisfy(n -> assertThat(n).isBetween(1, 2));
    }

    @Test
    void workersGoWarmThenSleepingThenWakeFromSnapshotsWithoutNewBoots() {
        coordinator.scale("acme/gateways", 3, 0, 0);
        coordinator.scale("acme/workers", 6, 0, 0);
        awaitConverged();
        var idsBefore = liveIds("acme/workers");

        coordinator.scale("acme/workers", 0, 6, 0);
        awaitConverged();
        assertThat(countOf("acme/workers", VmState.WARM)).isEqualTo(6);

        coordinator.scale("acme/workers", 0, 0, 6);
        coordinator.scale("acme/gateways", 0, 0, 3);
        awaitConverged();
        assertThat(countOf("acme/workers", VmState.SLEEPING)).isEqualTo(6);
        // Sleep goes the reverse way: on each node the gateway slept after all its workers had.
        for (var node : NODES) {
            var journal = runtimes.get(node).journal;
            var gatewaySleep = journal.stream().filter(op -> op.role() == Role.GATEWAY && op.verb().equals("sleep"))
                    .findFirst().orElseThrow();
            journal.stream().filter(op -> op.role() == Role.WORKER && op.verb().equals("sleep"))
                    .forEach(op -> assertThat(gatewaySleep.started()).as("gateway sleep on %s vs %s", node, op)
                            .isAfterOrEqualTo(op.ended()));
        }

        coordinator.scale("acme/gateways", 3, 0, 0);
        coordinator.scale("acme/workers", 6, 0, 0);
        awaitConverged();
        assertThat(liveIds("acme/workers")).isEqualTo(idsBefore);
        for (var id : idsBefore) {
            var vm = vmOf(id);
            assertThat(vm.boots).as("boots of %s", id).isEqualTo(1);
            assertThat(vm.wakes).as("wakes of %s", id).isEqualTo(1);
        }
    }

    @Test
    void crashedVmmIsRestartedAndTheRestartIsReported() {
        coordinator.scale("acme/workers", 3, 0, 0);
        awaitConverged();
        var victim = liveIds("acme/workers").getFirst();
        var node = coordinator.instances().get(victim).node;

        runtimes.get(node).crash(victim);

        await().atMost(CONVERGE).untilAsserted(() -> assertThat(coordinator.events).anySatisfy(e -> {
            assertThat(e.event().instance()).isEqualTo(victim);
            assertThat(e.event().type()).isEqualTo("restarted");
            assertThat(e.event().message()).contains("VMM exited unexpectedly");
        }));
        awaitConverged();
        assertThat(vmOf(victim).boots).isEqualTo(2);
        assertThat(coordinator.events).anySatisfy(e -> assertThat(e.event().type()).isEqualTo("vmm-exited"));
    }

    @Test
    void unresponsiveGuestIsRestartedAndOneThatKeepsCrashingEndsFailed() {
        coordinator.scale("acme/workers", 2, 0, 0);
        awaitConverged();
        var ids = liveIds("acme/workers");
        var hung = ids.get(0);
        runtimes.get(coordinator.instances().get(hung).node).hangGuest(hung, true);

        await().atMost(CONVERGE).untilAsserted(() -> assertThat(vmOf(hung).boots).isEqualTo(2));
        assertThat(coordinator.events).anySatisfy(e -> assertThat(e.event().type()).isEqualTo("guest-unresponsive"));

        // Crash the other one after every restart: after 3 restarts it is marked failed.
        var doomed = ids.get(1);
        var runtime = runtimes.get(coordinator.instances().get(doomed).node);
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(20)).until(() -> {
            var vm = runtime.vm(doomed);
            if (vm.state == VmState.RUNNING) {
                runtime.crash(doomed);
            }
            return coordinator.instances().get(doomed).reported == InstanceState.FAILED
                    && coordinator.events.stream().anyMatch(e -> e.event().type().equals("failed")
                    && e.event().instance().equals(doomed));
        });
        assertThat(coordinator.events.stream().filter(e -> e.event().instance().equals(doomed)
                && e.event().type().equals("restarted")).count()).isEqualTo(3);
    }

    @Test
    void agentKilledMidScaleUpReadoptsItsVmsWithoutDuplicatesOrOrphans() {
        coordinator.scale("acme/gateways", 3, 0, 0);
        coordinator.scale("beta/workers", 12, 0, 0);
        var a = NODES.getFirst();
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(2))
                .until(() -> runtimes.get(a).journal.stream().filter(op -> op.verb().equals("create")).count() >= 2);

        killAgent(a);
        var frozen = runtimes.get(a).states();
        // Nobody acts on node-a's VMs while its agent is down.
        sleep(Duration.ofMillis(300));
        assertThat(runtimes.get(a).states()).isEqualTo(frozen);

        startAgent(a);
        awaitConverged();
        assertThat(countOf("beta/workers", VmState.RUNNING)).isEqualTo(12);
    }

    @Test
    void agentsSurviveACoordinatorRestart() {
        coordinator.scale("acme/workers", 3, 0, 0);
        awaitConverged();

        coordinator.restart();
        sleep(Duration.ofMillis(300));
        coordinator.scale("acme/workers", 6, 0, 0);
        coordinator.cameBack();

        awaitConverged();
        assertThat(countOf("acme/workers", VmState.RUNNING)).isEqualTo(6);
    }

    @Test
    void lostNodesInstancesMoveAndTheReturningNodeEvictsItsOrphans() {
        coordinator.scale("acme/gateways", 3, 0, 0);
        coordinator.scale("acme/workers", 6, 0, 0);
        awaitConverged();
        var c = NODES.getLast();
        killAgent(c);
        var orphans = runtimes.get(c).states().keySet();
        assertThat(orphans).hasSize(3);

        clock.advance(Duration.ofMinutes(1));
        coordinator.detectLostNodes();
        assertThat(coordinator.status(c)).isEqualTo(NodeStatus.LOST);

        await().atMost(CONVERGE).untilAsserted(() -> {
            assertThat(countOnNodes("acme/workers", NODES.subList(0, 2))).isEqualTo(6);
            assertThat(countOnNodes("acme/gateways", NODES.subList(0, 2))).isEqualTo(3);
        });

        startAgent(c);
        awaitConverged();
        assertThat(runtimes.get(c).states()).isEmpty();
        // Their data may be the only copy: evicted (kept aside), never destroyed.
        assertThat(runtimes.get(c).journal.stream().filter(op -> op.verb().equals("evict")).count()).isEqualTo(3);
        assertThat(runtimes.get(c).journal.stream().filter(op -> op.verb().equals("destroy")).count()).isZero();
    }

    @Test
    void randomScalingWithCrashesAndAgentKillsStillEndsAtExactCounts() {
        var random = new java.util.Random(20261121);
        var pools = List.of("acme/gateways", "acme/workers", "beta/workers");
        var crashed = new java.util.HashSet<InstanceId>();
        for (int round = 0; round < 6; round++) {
            for (var pool : pools) {
                int max = pool.equals("acme/gateways") ? 3 : 6;
                int running = random.nextInt(max + 1);
                int warm = random.nextInt(max + 1 - running);
                int sleeping = random.nextInt(max + 1 - running - warm);
                coordinator.scale(pool, running, warm, sleeping);
            }
            sleep(Duration.ofMillis(50 + random.nextInt(150)));
            switch (random.nextInt(3)) {
                case 0 -> {
                    var node = NODES.get(random.nextInt(NODES.size()));
                    killAgent(node);
                    sleep(Duration.ofMillis(random.nextInt(100)));
                    startAgent(node);
                }
                case 1 -> {
                    // Crash one running VM, each at most once so restarts never run out.
                    for (var r : runtimes.values()) {
                        var victim = r.states().entrySet().stream()
                                .filter(e -> e.getValue() == VmState.RUNNING && !crashed.contains(e.getKey()))
                                .map(Map.Entry::getKey).findFirst();
                        if (victim.isPresent()) {
                            crashed.add(victim.get());
                            r.crash(victim.get());
                            break;
                        }
                    }
                }
                default -> { }
            }
        }
        awaitConverged();
    }

    // --- assertions over the whole fleet ---------------------------------------------------

    /**
     * Every pool has exactly its desired counts, every VM on a node is one the coordinator placed
     * there in the state it wants, no VM exists twice, nothing is orphaned, and the coordinator
     * heard about it.
     */
    void awaitConverged() {
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            var instances = coordinator.instances();
            var expectedPerNode = new HashMap<NodeId, Map<InstanceId, VmState>>();
            NODES.forEach(n -> expectedPerNode.put(n, new TreeMap<>()));
            for (var i : instances.values()) {
                assertThat(i.target).as("%s still to be destroyed", i.id).isNotEqualTo(Target.DESTROYED);
                assertThat(i.node).as("%s unplaced: %s", i.id, i.placementProblem).isNotNull();
                assertThat(i.reported.wireName()).as("reported state of %s", i.id).isEqualTo(i.target.wireName());
                if (i.target != Target.STOPPED) {
                    expectedPerNode.get(i.node).put(i.id, VmState.valueOf(i.target.name()));
                }
            }
            for (var node : NODES) {
                if (coordinator.status(node) == NodeStatus.LOST) {
                    continue;
                }
                assertThat(runtimes.get(node).states()).as("VMs on %s", node).isEqualTo(expectedPerNode.get(node));
            }
            for (var pool : coordinator.pools().values()) {
                var counts = pool.counts();
                assertThat(count(instances, pool.ref(), Target.RUNNING)).isEqualTo(counts.running());
                assertThat(count(instances, pool.ref(), Target.WARM)).isEqualTo(counts.warm());
                assertThat(count(instances, pool.ref(), Target.SLEEPING)).isEqualTo(counts.sleeping());
            }
        });
        runtimes.values().forEach(r -> assertThat(r.violations).isEmpty());
    }

    static long count(Map<InstanceId, FakeCoordinator.Instance> instances, PoolRef pool, Target t) {
        return instances.values().stream().filter(i -> i.pool.ref().equals(pool) && i.target == t).count();
    }

    List<InstanceId> liveIds(String pool) {
        var ref = PoolRef.parse(pool);
        return coordinator.instances().values().stream().filter(i -> i.pool.ref().equals(ref)).map(i -> i.id)
                .sorted().toList();
    }

    FakeRuntime.Vm vmOf(InstanceId id) {
        return runtimes.get(coordinator.instances().get(id).node).vm(id);
    }

    long countOf(String pool, VmState state) {
        var ids = liveIds(pool);
        return runtimes.values().stream().flatMap(r -> r.states().entrySet().stream())
                .filter(e -> ids.contains(e.getKey()) && e.getValue() == state).count();
    }

    long countOnNodes(String pool, List<NodeId> nodes) {
        var ids = liveIds(pool);
        return nodes.stream().flatMap(n -> runtimes.get(n).states().entrySet().stream())
                .filter(e -> ids.contains(e.getKey()) && e.getValue() == VmState.RUNNING).count();
    }

    Map<NodeId, Integer> perNodeCount(String pool) {
        var out = new TreeMap<NodeId, Integer>();
        var ids = liveIds(pool);
        runtimes.forEach((node, r) -> out.put(node,
                (int) r.states().keySet().stream().filter(ids::contains).count()));
        return out;
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

}
