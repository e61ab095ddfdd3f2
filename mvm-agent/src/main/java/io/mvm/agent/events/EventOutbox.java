package io.mvm.agent.events;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;

/**
 * Events waiting to reach the coordinator. They leave the outbox only after a report carrying them
 * was accepted, so a coordinator outage loses none (up to {@code capacity}; beyond that the oldest
 * are dropped and a count says so). With a file, every change is written to it atomically and it
 * is read back at construction, so unsent events survive an agent killed with -9 and are sent by
 * the next one.
 */
public final class EventOutbox {
    private final int capacity;
    private final Optional<Path> file;
    private final ArrayDeque<InstanceEvent> events = new ArrayDeque<>();
    private long dropped;

    /** Kept in memory only. */
    public EventOutbox(int capacity) {
        this(capacity, Optional.empty());
    }

    public EventOutbox(int capacity, Optional<Path> file) {
        if (capacity < 1) {
            throw new IllegalArgumentException("outbox capacity must be positive");
        }
        this.capacity = capacity;
        this.file = file;
        file.ifPresent(f -> {
            var saved = OutboxFile.read(f);
            dropped = saved.dropped();
            saved.events().forEach(this::append);
        });
    }

    public synchronized void add(InstanceEvent event) {
        append(event);
        save();
    }

    private void append(InstanceEvent event) {
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
        boolean changed = false;
        for (var e : sent) {
            if (!events.isEmpty() && events.peekFirst().equals(e)) {
                events.removeFirst();
                changed = true;
            }
        }
        if (changed) {
            save();
        }
    }

    /**
     * Drops the oldest event, if it is {@code event}, without it having been delivered: the
     * coordinator refused it as malformed, and keeping it would block every event behind it.
     * Counted with the events dropped for lack of room.
     */
    public synchronized void discard(InstanceEvent event) {
        if (!events.isEmpty() && events.peekFirst().equals(event)) {
            events.removeFirst();
            dropped++;
            save();
        }
    }

    public synchronized long dropped() {
        return dropped;
    }

    public synchronized int size() {
        return events.size();
    }

    private void save() {
        file.ifPresent(f -> OutboxFile.write(f, new OutboxFile.Saved(dropped, List.copyOf(events))));
    }
}
