package io.mvm.agent.reconcile;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mvm.core.reconcile.RestartHistory;
import io.mvm.model.InstanceId;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The restart book on disk: versioned JSON, written atomically. An unreadable file is moved aside
 * (kept for diagnosis) and the agent starts with an empty book rather than not at all.
 */
final class RestartBookFile {
    private static final Logger log = LoggerFactory.getLogger(RestartBookFile.class);
    static final int VERSION = 1;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    record Entry(InstanceId id, RestartHistory history, Optional<String> gaveUpFor) {}

    private record EntryBody(String id, int restarts, String notBefore, boolean gaveUp, String lastReason,
                             String gaveUpFor) {}

    private record Body(int version, List<EntryBody> instances) {}

    private RestartBookFile() {}

    static void write(Path file, List<Entry> entries) {
        var body = new Body(VERSION, entries.stream().map(e -> new EntryBody(e.id().value(), e.history().restarts(),
                e.history().notBefore().toString(), e.history().gaveUp(), e.history().lastReason(),
                e.gaveUpFor().orElse(null))).toList());
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            AtomicFile.write(file, JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw io.mvm.model.MvmException.internal("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static List<Entry> read(Path file) {
        if (!Files.exists(file)) {
            return List.of();
        }
        try {
            var body = JSON.readValue(file.toFile(), Body.class);
            if (body.version() != VERSION) {
                throw new IOException("unsupported version " + body.version() + " (this agent reads " + VERSION + ")");
            }
            return body.instances() == null ? List.of() : body.instances().stream().map(b -> new Entry(
                    InstanceId.of(b.id()), new RestartHistory(b.restarts(), Instant.parse(b.notBefore()), b.gaveUp(),
                    b.lastReason() == null ? "" : b.lastReason()), Optional.ofNullable(b.gaveUpFor()))).toList();
        } catch (IOException | RuntimeException e) {
            moveAside(file, e);
            return List.of();
        }
    }

    static void moveAside(Path file, Exception why) {
        var aside = file.resolveSibling(file.getFileName() + ".unreadable");
        log.warn("cannot read {} ({}); moved to {} and starting without it", file, why.getMessage(), aside);
        try {
            Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            log.warn("cannot move {} aside: {}", file, e.getMessage());
        }
    }
}
