package io.mvm.agent.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EventOutboxTest {
    static final Instant T0 = Instant.parse("2026-11-21T12:00:00Z");

    static InstanceEvent event(int n) {
        return new InstanceEvent(T0.plusSeconds(n), InstanceId.of("w1"), "created", "event " + n);
    }

    @Test
    void unacknowledgedEventsAreReadBackInOrderWithTheDropCount(@TempDir Path dir) {
        var file = Optional.of(dir.resolve("outbox.json"));
        var outbox = new EventOutbox(3, file);
        for (int i = 1; i <= 5; i++) {
            outbox.add(event(i));
        }
        outbox.acknowledge(outbox.peek(1));

        var next = new EventOutbox(3, file);
        assertThat(next.peek(10)).containsExactly(event(4), event(5));
        assertThat(next.dropped()).isEqualTo(2);
    }

    @Test
    void anUnreadableOutboxIsMovedAside(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("outbox.json"), "not json");
        var outbox = new EventOutbox(10, Optional.of(dir.resolve("outbox.json")));
        assertThat(outbox.size()).isZero();
        assertThat(dir.resolve("outbox.json.unreadable")).exists();
    }

    @Test
    void withoutAFileNothingIsWritten(@TempDir Path dir) throws Exception {
        var outbox = new EventOutbox(10);
        outbox.add(event(1));
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }
}
