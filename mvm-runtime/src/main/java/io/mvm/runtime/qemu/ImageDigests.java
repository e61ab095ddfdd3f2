package io.mvm.runtime.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.ImageFileDigest;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The guest image files a VM booted from, by sha256. A snapshot holds a running kernel and page
 * cache that belong to one exact kernel/initramfs/rootfs: restoring it over a rebuilt image would
 * hand the guest a filesystem that changed under it. So the digests are recorded at create and
 * checked before a wake, re-hashing a file only when its identity changed (see
 * {@link ImageFileDigest}): hashing the ~30 MB of the default image took ~380 ms, a third of a wake.
 */
final class ImageDigests {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ImageDigests() {}

    /**
     * A file changed this recently may change again within the same timestamp tick (coarse on
     * older kernels) without its identity moving, as git's "racy clean" entries can: its identity
     * is not recorded, so a wake hashes it.
     */
    static final Duration RACY_WINDOW = Duration.ofSeconds(2);

    /**
     * From the image's image.json where it lists a file (computed at build time), else hashed now;
     * {@code now} decides which files are too fresh to be trusted by identity.
     */
    static Map<String, ImageFileDigest> recorded(GuestImage image, Instant now) {
        Map<String, String> built = builtDigests(image.kernel().getParent().resolve("image.json"));
        Map<String, ImageFileDigest> out = new TreeMap<>();
        for (Path file : files(image)) {
            String identity = changedSince(file, now.minus(RACY_WINDOW)) ? null : identity(file);
            String known = built.get(file.getFileName().toString());
            out.put(file.toAbsolutePath().toString(), new ImageFileDigest(known != null ? known : sha256(file), identity));
        }
        return out;
    }

    /** FAILED_PRECONDITION when any image file differs from what the VM booted from. */
    static void requireUnchanged(VmHandle handle, GuestImage image) {
        if (handle.imageDigests() == null) {
            return; // a handle from before digests were recorded: nothing to compare against
        }
        for (Path file : files(image)) {
            ImageFileDigest expected = handle.imageDigests().get(file.toAbsolutePath().toString());
            if (expected == null || !Files.isRegularFile(file) || !unchanged(file, expected)) {
                throw MvmException.precondition("VM " + handle.name() + ": image changed since the snapshot ("
                        + file + "); stop and start the VM to cold-boot");
            }
        }
    }

    private static boolean unchanged(Path file, ImageFileDigest expected) {
        if (expected.identity() != null && expected.identity().equals(identity(file))) {
            return true;
        }
        return expected.sha256().equals(sha256(file));
    }

    /**
     * {@code dev:ino:size:mtime:ctime}, null when the file cannot be read. ctime cannot be set from
     * user space, so an in-place write is seen even when the writer restores the mtime.
     */
    static String identity(Path file) {
        try {
            Map<String, Object> unix = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime");
            return unix.get("dev") + ":" + unix.get("ino") + ":" + unix.get("size") + ":"
                    + ((FileTime) unix.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS) + ":"
                    + ((FileTime) unix.get("ctime")).to(TimeUnit.NANOSECONDS);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean changedSince(Path file, Instant since) {
        try {
            Map<String, Object> unix = Files.readAttributes(file, "unix:lastModifiedTime,ctime");
            return !((FileTime) unix.get("lastModifiedTime")).toInstant().isBefore(since)
                    || !((FileTime) unix.get("ctime")).toInstant().isBefore(since);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return true;
        }
    }

    private static List<Path> files(GuestImage image) {
        return List.of(image.kernel(), image.initramfs(), image.rootfs());
    }
    private static Map<String, String> builtDigests(Path imageJson) {
        Map<String, String> out = new TreeMap<>();
        if (!Files.isRegularFile(imageJson)) {
            return out;
        }
        try {
            JsonNode artifacts = JSON.readTree(imageJson.toFile()).path("artifacts");
            artifacts.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        } catch (IOException e) {
            // an unreadable image.json: fall back to hashing the files
        }
        return out;
    }

    static String sha256(Path file) {
        try {
            return ImageBuilder.sha256(file);
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot read image file " + file + ": " + e.getMessage(), e);
        }
    }
}
