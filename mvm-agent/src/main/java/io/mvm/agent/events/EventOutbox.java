package io.mvm.agent.events;

import java.util.ArrayDeque;
import java.util.List;

/**
 * Events waiting to reach the coordinator. They leave the outbox only after a report carrying them
 * was accepted, so a coordinator outage loses none (up to {@code capacity}; beyond that the oldest
 * are dropped and a count says so). Lost on agent kill -9: events are diagnostics, not intent.
 */
public final class EventOutbox {
    private final int capacity;
    private final ArrayDeque<InstanceEvent> events = new ArrayDeque<>();
    private long dropped;

    public EventOutbox(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("outbox capacity must be positive");
        }
        this.capacity = capacity;
    }

    public synchronized void add(InstanceEvent event) {
        if (events.size() == capacity) {
            events.removeFirst();
            dropped++;
        }
        events.addLast(event);
    }

    /** The oldest {@code max} events, still in the outbox. */
    public synchronized List<InstanceEvent> peek(int max) {
        return events.stream().limit(max).toList();
    }

    /** Removes the events a successful report carried (they are always the oldest ones). */
    public synchronized void acknowledge(List<InstanceEvent> sent) {
        for (var e : sent) {
            if (!events.isEmpty() && events.peekFirst().equals(e)) {
                events.removeFirst();
            }
        }
    }

    public synchronized long dropped() {
        return dropped;
    }

    public synchronized int size() {
        return events.size();
    }
}
