package io.mvm.core.placement;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

class PlacementProperties {
    static final List<PoolRef> POOLS = List.of(PoolRef.parse("acme/gw"), PoolRef.parse("acme/workers"),
            PoolRef.parse("beta/workers"));

    record Fleet(List<NodeView> nodes, List<InstanceDemand> instances) {}

    @Provide
    Arbitrary<Fleet> fleets() {
        Arbitrary<NodeView> node = Combinators.combine(
                Arbitraries.integers().between(0, 16), Arbitraries.longs().between(0, 16_384),
                Arbitraries.longs().between(0, 50_000), Arbitraries.of(NodeStatus.class))
                .as((cpu, mem, disk, status) -> new NodeView(NodeId.of("n"), new Capacity(cpu, mem, disk), status,
                        Map.of()));
        Arbitrary<List<NodeView>> nodes = node.list().ofMinSize(0).ofMaxSize(6).map(list -> {
            var out = new ArrayList<NodeView>();
            for (int i = 0; i < list.size(); i++) {
                var n = list.get(i);
                out.add(new NodeView(NodeId.of("node-" + i), n.allocatable(), n.status(), n.labels()));
            }
            return out;
        });
        Arbitrary<InstanceDemand> demand = Combinators.combine(
                Arbitraries.of(POOLS), Arbitraries.integers().between(0, 4),
                Arbitraries.longs().between(0, 4096), Arbitraries.longs().between(0, 8192))
                .as((pool, cpu, mem, disk) -> InstanceDemand.unplaced("i", pool, new Capacity(cpu, mem, disk)));
        return Combinators.combine(nodes, demand.list().ofMaxSize(40), Arbitraries.longs())
                .as((ns, ds, seed) -> new Fleet(ns, withIdsAndSomeExistingPlacements(ns, ds, seed)));
    }

    /** Existing placements are themselves produced by placement, so they respect capacity. */
    static List<InstanceDemand> withIdsAndSomeExistingPlacements(List<NodeView> nodes, List<InstanceDemand> ds,
                                                                 long seed) {
        var random = new Random(seed);
        var named = new ArrayList<InstanceDemand>();
        for (int i = 0; i < ds.size(); i++) {
            var d = ds.get(i);
            named.add(new InstanceDemand(InstanceId.of("i-" + i), d.pool(), d.demand(), Map.of(), Optional.empty()));
        }
        int alreadyPlaced = named.isEmpty() ? 0 : random.nextInt(named.size() + 1);
        var first = Placement.place(nodes, named.subList(0, alreadyPlaced)).assignments();
        var out = new ArrayList<InstanceDemand>();
        for (var d : named) {
            var at = first.get(d.id());
            out.add(at == null ? d : d.on(at));
        }
        return out;
    }

    @Property
    void noNodeIsEverOverAllocatedAndLostNodesGetNothing(@ForAll("fleets") Fleet fleet) {
        var plan = Placement.place(fleet.nodes(), fleet.instances());
        var demands = new HashMap<InstanceId, Capacity>();
        fleet.instances().forEach(i -> demands.put(i.id(), i.demand()));
        var used = new HashMap<NodeId, Capacity>();
        plan.assignments().forEach((id, node) -> used.merge(node, demands.get(id), Capacity::plus));
        for (var n : fleet.nodes()) {
            var u = used.getOrDefault(n.id(), Capacity.ZERO);
            assertThat(u.fitsIn(n.allocatable())).as("node %s uses %s of %s", n.id(), u, n.allocatable()).isTrue();
            if (n.status() == NodeStatus.LOST) {
                assertThat(u).isEqualTo(Capacity.ZERO);
            }
        }
        assertThat(plan.decisions()).hasSize(fleet.instances().size());
    }

    @Property
    void placedInstancesOnReadyNodesStay(@ForAll("fleets") Fleet fleet) {
        var plan = Placement.place(fleet.nodes(), fleet.instances());
        var ready = fleet.nodes().stream().filter(n -> n.status() == NodeStatus.READY).map(NodeView::id).toList();
        for (var i : fleet.instances()) {
            i.currentNode().filter(ready::contains)
                    .ifPresent(node -> assertThat(plan.assignments()).containsEntry(i.id(), node));
        }
    }

    @Property
    void sameInputGivesSamePlanWhateverTheOrder(@ForAll("fleets") Fleet fleet, @ForAll long seed) {
        var nodes = new ArrayList<>(fleet.nodes());
        var instances = new ArrayList<>(fleet.instances());
        Collections.shuffle(nodes, new Random(seed));
        Collections.shuffle(instances, new Random(seed + 1));

        assertThat(Placement.place(nodes, instances)).isEqualTo(Placement.place(fleet.nodes(), fleet.instances()));
    }

    @Property
    void poolsSpreadWithinOneOnUniformRoomyNodes(@ForAll @IntRange(min = 1, max = 6) int nodeCount,
                                                @ForAll @IntRange(min = 0, max = 30) int gateways,
                                                @ForAll @IntRange(min = 0, max = 30) int workers,
                                                @ForAll @IntRange(min = 1, max = 4) int size) {
        var nodes = new ArrayList<NodeView>();
        for (int i = 0; i < nodeCount; i++) {
            nodes.add(NodeView.ready("node-" + i, 1000, 1_000_000, 1_000_000));
        }
        var instances = new ArrayList<InstanceDemand>();
        for (int i = 0; i < gateways; i++) {
            instances.add(InstanceDemand.unplaced("g-" + i, POOLS.get(0), new Capacity(size, 256L * size, 0)));
        }
        for (int i = 0; i < workers; i++) {
            instances.add(InstanceDemand.unplaced("w-" + i, POOLS.get(1), new Capacity(1, 128, 0)));
        }
        var plan = Placement.place(nodes, instances);

        assertThat(plan.unplaceable()).isEmpty();
        for (var pool : List.of("g-", "w-")) {
            var perNode = new HashMap<NodeId, Integer>();
            nodes.forEach(n -> perNode.put(n.id(), 0));
            plan.assignments().forEach((id, node) -> {
                if (id.value().startsWith(pool)) {
                    perNode.merge(node, 1, Integer::sum);
                }
            });
            int max = Collections.max(perNode.values());
            int min = Collections.min(perNode.values());
            assertThat(max - min).as("spread of %s: %s", pool, perNode).isLessThanOrEqualTo(1);
        }
    }
}
