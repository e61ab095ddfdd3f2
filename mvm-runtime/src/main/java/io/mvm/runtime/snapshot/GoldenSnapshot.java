package io.mvm.runtime.snapshot;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A golden snapshot on disk: a directory holding the guest RAM ({@code memory.ram}, mapped
 * copy-on-write by every clone, never written after the snapshot), the device state
 * ({@code vmstate.bin}, a few dozen KB), optionally the template's data drive ({@code data.ext4})
 * and {@code info.json} ({@link SnapshotInfo}).
 */
public record GoldenSnapshot(Path dir, SnapshotInfo info) {
    public static final String MEMORY = "memory.ram";
    public static final String VMSTATE = "vmstate.bin";
    public static final String DATA_DRIVE = "data.ext4";

    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    public Path memory() {
        return dir.resolve(MEMORY);
    }

    public Path vmstate() {
        return dir.resolve(VMSTATE);
    }

    public Optional<Path> dataDrive() {
        return Optional.ofNullable(info.dataDrive()).map(f -> dir.resolve(f.name()));
    }

    /** Reads a snapshot directory; a missing or unreadable one is a clear error, never a stack trace. */
    public static GoldenSnapshot open(Path dir) {
        Path file = dir.resolve(SnapshotInfo.FILE_NAME);
        if (!Files.isDirectory(dir)) {
            throw MvmException.notFound("no snapshot directory " + dir);
        }
        if (!Files.isRegularFile(file)) {
            throw MvmException.precondition(dir + " is not a golden snapshot (no " + SnapshotInfo.FILE_NAME
                    + "; it is written last, so a save that did not finish leaves none)");
        }
        SnapshotInfo info;
        try {
            info = JSON.readValue(file.toFile(), SnapshotInfo.class);
        } catch (IOException e) {
            throw MvmException.precondition("cannot read " + file + ": " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (info.schemaVersion() != SnapshotInfo.SCHEMA_VERSION) {
            throw MvmException.precondition(file + " has schema version " + info.schemaVersion() + "; this mvm reads "
                    + SnapshotInfo.SCHEMA_VERSION);
        }
        if (info.vmstate() == null || info.memory() == null) {
            throw MvmException.precondition(file + " names no vmstate or memory file");
        }
        return new GoldenSnapshot(dir, info);
    }

    /** Writes {@code info.json} last and durably: its presence is what makes the directory a snapshot. */
    public static GoldenSnapshot write(Path dir, SnapshotInfo info) {
        try {
            AtomicFile.write(dir.resolve(SnapshotInfo.FILE_NAME), JSON.writeValueAsBytes(info),
                    PosixFilePermissions.fromString("r--r-----"));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot write " + SnapshotInfo.FILE_NAME + ": " + e.getMessage(), e);
        }
        return new GoldenSnapshot(dir, info);
    }

    /**
     * Refuses (FAILED_PRECONDITION, naming every problem) when a file is missing, has another size,
     * or other content than recorded. The small vmstate is always hashed; the RAM file and data
     * drive are re-hashed only when their identity changed since the save (a write, a copy, a
     * replacement), because hashing 256 MiB costs about a second on these hosts and a clone should
     * take a fraction of that. Sizes are always checked, so truncation is always caught.
     */
    public void verify() {
        List<String> problems = new ArrayList<>();
        check(info.vmstate(), true, problems);
        check(info.memory(), false, problems);
        if (info.dataDrive() != null) {
            check(info.dataDrive(), false, problems);
        }
        if (!problems.isEmpty()) {
            throw MvmException.precondition("snapshot " + dir + " is damaged, not restoring it: " + String.join("; ", problems));
        }
    }

    private void check(SnapshotInfo.SnapshotFile expected, boolean alwaysHash, List<String> problems) {
        Path file = dir.resolve(expected.name());
        if (!Files.isRegularFile(file)) {
            problems.add(expected.name() + " is missing");
            return;
        }
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            problems.add(expected.name() + " cannot be read: " + e.getMessage());
            return;
        }
        if (size != expected.bytes()) {
            problems.add(expected.name() + " has " + size + " bytes, " + expected.bytes() + " recorded (truncated or replaced)");
            return;
        }
        if (!alwaysHash && expected.identity() != null && expected.identity().equals(FileDigests.identity(file))) {
            return;
        }
        String actual = FileDigests.sha256(file);
        if (!actual.equals(expected.sha256())) {
            problems.add(expected.name() + " has sha256 " + actual + ", " + expected.sha256() + " recorded (corrupt)");
        }
    }
}
