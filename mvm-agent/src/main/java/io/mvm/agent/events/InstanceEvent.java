package io.mvm.agent.events;

import io.mvm.model.BoundedText;
import io.mvm.model.InstanceId;
import java.time.Instant;
import java.util.Objects;

/**
 * Something that happened to an instance on this node, reported to the coordinator. The message is
 * cut to {@link BoundedText#MESSAGE_LIMIT} here, so it is bounded in the outbox file and on the wire
 * whatever a guest put into it.
 */
public record InstanceEvent(Instant time, InstanceId instance, String type, String message) {
    public InstanceEvent {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(message, "message");
        message = BoundedText.message(message);
    }
}
