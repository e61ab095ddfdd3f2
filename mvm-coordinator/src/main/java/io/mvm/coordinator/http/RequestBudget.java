package io.mvm.coordinator.http;

import java.util.concurrent.Semaphore;

/**
 * How many requests may be in flight at once, apart for node traffic (the agent protocol) and
 * everyone else, so a flood of user requests can never take the threads, connections or database
 * time that heartbeats need. Full: the request is refused at once (429), never queued.
 */
final class RequestBudget {
    private final Semaphore nodes;
    private final Semaphore users;

    RequestBudget(int nodeRequests, int userRequests) {
        this.nodes = new Semaphore(nodeRequests);
        this.users = new Semaphore(userRequests);
    }

    /** The permit to release when the request ends, or null when the budget is spent. */
    Semaphore tryEnter(boolean nodeTraffic) {
        Semaphore s = nodeTraffic ? nodes : users;
        return s.tryAcquire() ? s : null;
    }
}
