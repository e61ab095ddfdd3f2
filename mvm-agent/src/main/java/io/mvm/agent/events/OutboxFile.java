package io.mvm.agent.events;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event outbox on disk: versioned JSON, written atomically. An unreadable file is moved aside
 * (events are diagnostics: losing them must not keep the agent from starting).
 */
final class OutboxFile {
    private static final Logger log = LoggerFactory.getLogger(OutboxFile.class);
    static final int VERSION = 1;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    record Saved(long dropped, List<InstanceEvent> events) {}

    private record EventBody(String time, String instance, String type, String message) {}

    private record Body(int version, long dropped, List<EventBody> events) {}

    private OutboxFile() {}

    static void write(Path file, Saved saved) {
        var body = new Body(VERSION, saved.dropped(), saved.events().stream().map(e -> new EventBody(
                e.time().toString(), e.instance().value(), e.type(), e.message())).toList());
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            AtomicFile.write(file, JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw MvmException.internal("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static Saved read(Path file) {
        if (!Files.exists(file)) {
            return new Saved(0, List.of());
        }
        try {
            var body = JSON.readValue(file.toFile(), Body.class);
            if (body.version() != VERSION) {
                throw new IOException("unsupported version " + body.version() + " (this agent reads " + VERSION + ")");
            }
            var events = body.events() == null ? List.<InstanceEvent>of() : body.events().stream().map(b ->
                    new InstanceEvent(Instant.parse(b.time()), InstanceId.of(b.instance()), b.type(), b.message()))
                    .toList();
            return new Saved(body.dropped(), events);
        } catch (IOException | RuntimeException e) {
            var aside = file.resolveSibling(file.getFileName() + ".unreadable");
            log.warn("cannot read {} ({}); moved to {} and starting without it", file, e.getMessage(), aside);
            try {
                Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException moveFailed) {
                log.warn("cannot move {} aside: {}", file, moveFailed.getMessage());
            }
            return new Saved(0, List.of());
        }
    }
}
