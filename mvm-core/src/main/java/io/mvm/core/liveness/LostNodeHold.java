package io.mvm.core.liveness;

import io.mvm.model.NodeId;
import java.time.Instant;

/** Whether an instance on a lost node stays assigned there or may be placed elsewhere. Pure. */
public final class LostNodeHold {
    private LostNodeHold() {}

    /** The decision for one instance. */
    public sealed interface Decision {
        /** Keep the instance on its lost node; {@code reason} tells the user why. */
        record Stay(String reason) implements Decision {}

        /** Place it again, on any ready node with room. */
        record Move() implements Decision {}
    }

    /**
     * @param holdUntil the end of the node's grace period ({@link NodeLiveness#holdUntil})
     * @param hasData   the instance has a data disk or a sleeping snapshot on that node
     * @param evacuate  an operator asked to recreate it elsewhere (it loses its data)
     */
    public static Decision decide(NodeId node, Instant holdUntil, Instant now, OnNodeLost rule, boolean hasData,
                                  boolean evacuate) {
        if (evacuate) {
            return new Decision.Move();
        }
        if (now.isBefore(holdUntil)) {
            return new Decision.Stay("node " + node + " is lost; its instances stay there until " + holdUntil
                    + " in case it returns, then move to another node");
        }
        if (rule.waits(hasData)) {
            return new Decision.Stay("node " + node + " is lost; this instance waits for it because its data (a data"
                    + " disk or a snapshot) is there and cannot move (on_node_lost=" + rule.wireName()
                    + "); 'mvm instance evacuate' recreates it elsewhere without its data");
        }
        return new Decision.Move();
    }
}
