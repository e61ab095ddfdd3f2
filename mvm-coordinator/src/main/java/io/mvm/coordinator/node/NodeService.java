package io.mvm.coordinator.node;

import io.mvm.store.db.Database;
import io.mvm.store.node.Node;
import io.mvm.store.node.NodeStore;
import java.util.List;

/** Read access to the node registry (agents fill it in the reconcile work). */
public final class NodeService {
    private final Database db;
    private final NodeStore nodes;

    public NodeService(Database db, NodeStore nodes) {
        this.db = db;
        this.nodes = nodes;
    }

    public List<Node> list() {
        return db.read(nodes::list);
    }
}
