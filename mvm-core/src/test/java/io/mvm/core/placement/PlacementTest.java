package io.mvm.core.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PlacementTest {
    static final PoolRef WORKERS = PoolRef.parse("acme/workers");
    static final PoolRef GATEWAYS = PoolRef.parse("acme/gateways");

    @Test
    void spreadsAPoolAcrossNodesBeforeDoublingUp() {
        var nodes = List.of(NodeView.ready("node-a", 8, 8192, 100_000), NodeView.ready("node-b", 8, 8192, 100_000));
        var plan = Placement.place(nodes, List.of(
                InstanceDemand.unplaced("w1", WORKERS, new Capacity(1, 512, 1024)),
                InstanceDemand.unplaced("w2", WORKERS, new Capacity(1, 512, 1024)),
                InstanceDemand.unplaced("w3", WORKERS, new Capacity(1, 512, 1024)),
                InstanceDemand.unplaced("w4", WORKERS, new Capacity(1, 512, 1024))));

        assertThat(plan.assignments()).containsExactlyInAnyOrderEntriesOf(Map.of(
                id("w1"), node("node-a"), id("w2"), node("node-b"),
                id("w3"), node("node-a"), id("w4"), node("node-b")));
    }

    @Test
    void prefersTheLeastLoadedNodeWhenPoolCountsTie() {
        var nodes = List.of(NodeView.ready("node-a", 8, 8192, 100_000), NodeView.ready("node-b", 8, 8192, 100_000));
        var plan = Placement.place(nodes, List.of(
                InstanceDemand.unplaced("g1", GATEWAYS, new Capacity(4, 1024, 0)).on(node("node-a")),
                InstanceDemand.unplaced("w1", WORKERS, new Capacity(1, 512, 0))));

        assertThat(plan.assignments()).containsEntry(id("w1"), node("node-b"));
    }

    @Test
    void keepsPlacedInstancesWhereTheyAreEvenIfSpreadWouldDiffer() {
        var nodes = List.of(NodeView.ready("node-a", 8, 8192, 0), NodeView.ready("node-b", 8, 8192, 0));
        var plan = Placement.place(nodes, List.of(
                InstanceDemand.unplaced("w1", WORKERS, new Capacity(1, 512, 0)).on(node("node-a")),
                InstanceDemand.unplaced("w2", WORKERS, new Capacity(1, 512, 0)).on(node("node-a"))));

        assertThat(plan.decisions()).containsExactly(
                new PlacementDecision.Assigned(id("w1"), node("node-a"), false),
                new PlacementDecision.Assigned(id("w2"), node("node-a"), false));
    }

    @Test
    void movesInstancesOffLostNodes() {
        var nodes = List.of(NodeView.ready("node-a", 8, 8192, 0).lost(), NodeView.ready("node-b", 8, 8192, 0));
        var plan = Placement.place(nodes, List.of(
                InstanceDemand.unplaced("w1", WORKERS, new Capacity(1, 512, 0)).on(node("node-a"))));

        assertThat(plan.decisions()).containsExactly(new PlacementDecision.Assigned(id("w1"), node("node-b"), true));
    }

    @Test
    void honoursRequiredLabels() {
        var nodes = List.of(NodeView.ready("node-a", 8, 8192, 0),
                NodeView.ready("node-b", 8, 8192, 0).withLabels(Map.of("zone", "eu")));
        var plan = Placement.place(nodes, List.of(
                InstanceDemand.unplaced("w1", WORKERS, new Capacity(1, 512, 0)).requiring(Map.of("zone", "eu")),
                InstanceDemand.unplaced("w2", WORKERS, new Capacity(1, 512, 0)).requiring(Map.of("zone", "eu"))));

        assertThat(plan.assignments().values()).containsOnly(node("node-b"));
    }

    static Stream<Arguments> unplaceableCases() {
        var a = NodeView.ready("node-a", 8, 4096, 10_000);
        var b = NodeView.ready("node-b", 8, 4096, 10_000);
        var fill = InstanceDemand.unplaced("x1", GATEWAYS, new Capacity(6, 1024, 0)).on(node("node-a"));
        return Stream.of(
                Arguments.of("no nodes at all", List.of(), List.of(),
                        "no nodes are registered"),
                Arguments.of("vCPUs short on one node, other node lost", List.of(a, b.lost()), List.of(fill),
                        "no node can fit 4 vCPUs, 512 MiB memory, 0 MiB disk: node-a has 2/8 vCPUs free, node-b is lost"),
                Arguments.of("memory and disk short", List.of(NodeView.ready("node-a", 8, 256, 100)), List.of(),
                        "no node can fit 4 vCPUs, 512 MiB memory, 0 MiB disk: node-a has 256/256 MiB memory free"),
                Arguments.of("label missing", List.of(a.withLabels(Map.of("zone", "us"))), List.of(),
                        "no node can fit 4 vCPUs, 512 MiB memory, 0 MiB disk: node-a lacks label zone=eu"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unplaceableCases")
    void explainsWhyAnInstanceCannotBePlaced(String name, List<NodeView> nodes, List<InstanceDemand> others,
                                            String reason) {
        var wanted = InstanceDemand.unplaced("w9", WORKERS, new Capacity(4, 512, 0));
        if (name.equals("label missing")) {
            wanted = wanted.requiring(Map.of("zone", "eu"));
        }
        var all = new java.util.ArrayList<>(others);
        all.add(wanted);

        var plan = Placement.place(nodes, all);

        assertThat(plan.unplaceable()).containsEntry(id("w9"), reason);
    }

    @Test
    void listsEveryShortDimension() {
        var plan = Placement.place(List.of(NodeView.ready("node-a", 2, 256, 100)),
                List.of(InstanceDemand.unplaced("w1", WORKERS, new Capacity(4, 512, 1000))));
        assertThat(plan.unplaceable().get(id("w1")))
                .endsWith("node-a has 2/2 vCPUs and 256/256 MiB memory and 100/100 MiB disk free");
    }

    @Test
    void rejectsDuplicateIds() {
        var n = NodeView.ready("node-a", 2, 256, 100);
        assertThatThrownBy(() -> Placement.place(List.of(n, n), List.of()))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT))
                .hasMessageContaining("node-a is listed twice");
        var w = InstanceDemand.unplaced("w1", WORKERS, Capacity.ZERO);
        assertThatThrownBy(() -> Placement.place(List.of(n), List.of(w, w)))
                .hasMessageContaining("instance w1 is listed twice");
    }

    static InstanceId id(String s) {
        return InstanceId.of(s);
    }

    static NodeId node(String s) {
        return NodeId.of(s);
    }
}
