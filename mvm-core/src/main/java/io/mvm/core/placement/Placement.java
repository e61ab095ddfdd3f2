package io.mvm.core.placement;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolRef;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decides which node runs each instance. Pure and deterministic: the same nodes and instances
 * always give the same plan, whatever order they are passed in.
 *
 * <ul>
 *   <li>Stable: an instance already on a ready node stays there.</li>
 *   <li>Never over-allocates: a new instance goes only where its vCPUs, memory and disk fit into
 *       the node's allocatable capacity minus what is already placed there.</li>
 *   <li>Never uses lost nodes; instances on a lost node are placed again.</li>
 *   <li>Spreads a pool: the candidate with the fewest instances of that pool wins, then the least
 *       loaded one (highest of its vCPU and memory fractions in use), then the lowest node id.</li>
 * </ul>
 */
public final class Placement {

    private Placement() {}

    public static PlacementPlan place(List<NodeView> nodes, List<InstanceDemand> instances) {
        var nodesById = new TreeMap<NodeId, NodeView>();
        for (var n : nodes) {
            if (nodesById.put(n.id(), n) != null) {
                throw MvmException.invalid("node " + n.id() + " is listed twice");
            }
        }
        var seen = new HashSet<InstanceId>();
        for (var i : instances) {
            if (!seen.add(i.id())) {
                throw MvmException.invalid("instance " + i.id() + " is listed twice");
            }
        }

        var used = new HashMap<NodeId, Capacity>();
        var poolCounts = new HashMap<NodeId, Map<PoolRef, Integer>>();
        nodesById.keySet().forEach(id -> {
            used.put(id, Capacity.ZERO);
            poolCounts.put(id, new HashMap<>());
        });

        var decisions = new TreeMap<InstanceId, PlacementDecision>();
        var toPlace = new ArrayList<InstanceDemand>();
        for (var i : instances) {
            var node = i.currentNode().map(nodesById::get).orElse(null);
            if (node != null && node.status() == NodeStatus.READY) {
                decisions.put(i.id(), new PlacementDecision.Assigned(i.id(), node.id(), false));
                used.merge(node.id(), i.demand(), Capacity::plus);
                poolCounts.get(node.id()).merge(i.pool(), 1, Integer::sum);
            } else {
                toPlace.add(i);
            }
        }

        toPlace.sort(Comparator.comparing(InstanceDemand::pool).thenComparing(InstanceDemand::id));
        for (var i : toPlace) {
            NodeView best = null;
            for (var n : nodesById.values()) {
                if (!canTake(n, i, used.get(n.id()))) {
                    continue;
                }
                if (best == null || better(n, best, i.pool(), used, poolCounts)) {
                    best = n;
                }
            }
            if (best == null) {
                decisions.put(i.id(), new PlacementDecision.Unplaceable(i.id(), reason(i, nodesById, used)));
            } else {
                decisions.put(i.id(), new PlacementDecision.Assigned(i.id(), best.id(), true));
                used.merge(best.id(), i.demand(), Capacity::plus);
                poolCounts.get(best.id()).merge(i.pool(), 1, Integer::sum);
            }
        }
        return new PlacementPlan(List.copyOf(decisions.values()));
    }

    private static boolean canTake(NodeView node, InstanceDemand instance, Capacity usedOnNode) {
        return node.status() == NodeStatus.READY
                && hasLabels(node, instance.requiredLabels())
                && instance.demand().fitsIn(node.allocatable().minusOrZero(usedOnNode))
                && usedOnNode.plus(instance.demand()).fitsIn(node.allocatable());
    }

    private static boolean hasLabels(NodeView node, Map<String, String> required) {
        return required.entrySet().stream().allMatch(e -> e.getValue().equals(node.labels().get(e.getKey())));
    }

    /** True when {@code a} is a better home than {@code b} for one more instance of {@code pool}. */
    private static boolean better(NodeView a, NodeView b, PoolRef pool, Map<NodeId, Capacity> used,
                                  Map<NodeId, Map<PoolRef, Integer>> poolCounts) {
        int countA = poolCounts.get(a.id()).getOrDefault(pool, 0);
        int countB = poolCounts.get(b.id()).getOrDefault(pool, 0);
        if (countA != countB) {
            return countA < countB;
        }
        long loadA = loadPpm(a, used.get(a.id()));
        long loadB = loadPpm(b, used.get(b.id()));
        if (loadA != loadB) {
            return loadA < loadB;
        }
        return a.id().compareTo(b.id()) < 0;
    }

    /** Parts per million of the node's most used dimension (vCPUs or memory). */
    private static long loadPpm(NodeView node, Capacity usedOnNode) {
        long cpu = node.allocatable().vcpus() == 0 ? 0 : usedOnNode.vcpus() * 1_000_000L / node.allocatable().vcpus();
        long mem = node.allocatable().memoryMib() == 0 ? 0
                : usedOnNode.memoryMib() * 1_000_000L / node.allocatable().memoryMib();
        return Math.max(cpu, mem);
    }

    private static String reason(InstanceDemand instance, Map<NodeId, NodeView> nodes, Map<NodeId, Capacity> used) {
        if (nodes.isEmpty()) {
            return "no nodes are registered";
        }
        var why = new ArrayList<String>();
        for (var n : nodes.values()) {
            why.add(whyNot(n, instance, used.get(n.id())));
        }
        return "no node can fit " + instance.demand().describe() + ": " + String.join(", ", why);
    }

    private static String whyNot(NodeView node, InstanceDemand instance, Capacity usedOnNode) {
        if (node.status() == NodeStatus.LOST) {
            return node.id() + " is lost";
        }
        for (var e : new TreeMap<>(instance.requiredLabels()).entrySet()) {
            if (!e.getValue().equals(node.labels().get(e.getKey()))) {
                return node.id() + " lacks label " + e.getKey() + "=" + e.getValue();
            }
        }
        var free = node.allocatable().minusOrZero(usedOnNode);
        var want = instance.demand();
        var shortages = new ArrayList<String>();
        if (want.vcpus() > free.vcpus()) {
            shortages.add(free.vcpus() + "/" + node.allocatable().vcpus() + " vCPUs");
        }
        if (want.memoryMib() > free.memoryMib()) {
            shortages.add(free.memoryMib() + "/" + node.allocatable().memoryMib() + " MiB memory");
        }
        if (want.diskMib() > free.diskMib()) {
            shortages.add(free.diskMib() + "/" + node.allocatable().diskMib() + " MiB disk");
        }
        return node.id() + " has " + String.join(" and ", shortages) + " free";
    }
}
