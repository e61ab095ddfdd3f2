package io.mvm.runtime.snapshot;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.ImageBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Sizes, digests and identities of snapshot files. */
public final class FileDigests {
    private FileDigests() {}

    public static SnapshotInfo.SnapshotFile describe(Path file) {
        try {
            return new SnapshotInfo.SnapshotFile(file.getFileName().toString(), Files.size(file),
                    ImageBuilder.sha256(file), identity(file));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code dev:ino:size:mtime:ctime}, or null when unreadable. ctime cannot be set from user space,
     * so any write to the file (even one that restores mtime) changes it, as does replacing the file.
     */
    public static String identity(Path file) {
        try {
            Map<String, Object> unix = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime");
            return unix.get("dev") + ":" + unix.get("ino") + ":" + unix.get("size") + ":"
                    + ((FileTime) unix.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS) + ":"
                    + ((FileTime) unix.get("ctime")).to(TimeUnit.NANOSECONDS);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }

    public static String sha256(Path file) {
        try {
            return ImageBuilder.sha256(file);
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
