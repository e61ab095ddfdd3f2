package io.mvm.core.placement;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Placement's answer: one decision per instance, in instance-id order. */
public record PlacementPlan(List<PlacementDecision> decisions) {
    public PlacementPlan {
        decisions = List.copyOf(decisions);
    }

    public Map<InstanceId, NodeId> assignments() {
        var out = new TreeMap<InstanceId, NodeId>();
        for (var d : decisions) {
            if (d instanceof PlacementDecision.Assigned a) {
                out.put(a.instance(), a.node());
            }
        }
        return out;
    }

    public Map<InstanceId, String> unplaceable() {
        var out = new TreeMap<InstanceId, String>();
        for (var d : decisions) {
            if (d instanceof PlacementDecision.Unplaceable u) {
                out.put(u.instance(), u.reason());
            }
        }
        return out;
    }

    public Optional<PlacementDecision> decisionFor(InstanceId id) {
        return decisions.stream().filter(d -> d.instance().equals(id)).findFirst();
    }
}
