package io.mvm.runtime.vm;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code <dataDir>/orphans/}: the data of VMs that were removed from this host without anybody
 * asking for their data to be deleted (an instance the node's desired state no longer names may
 * have moved to another node, and its disk may be the only copy). One directory per VM,
 * {@code <name>-<UTC time>/}, holding {@code data.ext4} and any snapshot, plus {@value #NOTE}
 * saying whose they are and why. Nothing here is ever deleted by mvm: an operator removes a
 * directory once the data is safe (docs/operations.md).
 */
public final class Orphans {
    private static final Logger LOG = LoggerFactory.getLogger(Orphans.class);
    /** The note written into each orphan directory before it gets its final name. */
    public static final String NOTE = "orphan.json";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** One set-aside VM: where, how many bytes its kept files hold, why and when. */
    public record Orphan(String name, Path path, long bytes, String reason, Instant at) {}

    /** The note's shape on disk (snake_case JSON). */
    record Note(int schemaVersion, String name, String reason, Instant at) {}

    private final Path root;

    public Orphans(Path dataDir) {
        this.root = dataDir.resolve("orphans");
    }

    public Path root() {
        return root;
    }

    /** A fresh directory name for {@code name} set aside at {@code at} (not created). */
    Path newDirectory(String name, Instant at) {
        Path dir = root.resolve(name + "-" + STAMP.format(at));
        for (int i = 2; Files.exists(dir); i++) {
            dir = root.resolve(name + "-" + STAMP.format(at) + "-" + i);
        }
        return dir;
    }

    void createRoot() {
        try {
            Files.createDirectories(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create " + root + ": " + e.getMessage(), e);
        }
    }

    static void writeNote(Path dir, String name, String reason, Instant at) {
        try {
            AtomicFile.write(dir.resolve(NOTE), JSON.writeValueAsBytes(new Note(1, name, reason, at)),
                    PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot write the orphan note in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every orphan directory, oldest first. A directory without a readable note (hand-made, or
     * from a crash before the note) is still listed, with the directory's own name and time: data
     * is never hidden from the operator.
     */
    public List<Orphan> list() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<Orphan> out = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList()) {
                out.add(read(dir));
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot list " + root + ": " + e.getMessage(), e);
        }
        out.sort(Comparator.comparing(Orphan::at).thenComparing(Orphan::name));
        return out;
    }

    private static Orphan read(Path dir) throws IOException {
        long bytes = 0;
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals(NOTE)).toList()) {
                bytes += Files.size(f);
            }
        }
        try {
            Note note = JSON.readValue(dir.resolve(NOTE).toFile(), Note.class);
            return new Orphan(note.name(), dir, bytes, note.reason(), note.at());
        } catch (IOException | RuntimeException e) {
            LOG.warn("orphan directory {} has no readable {}: {}", dir, NOTE, e.getMessage());
            return new Orphan(dir.getFileName().toString(), dir, bytes, "no readable " + NOTE,
                    Files.getLastModifiedTime(dir).toInstant());
        }
    }
}
