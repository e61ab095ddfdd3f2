package io.mvm.runtime.drive;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Builds ext4 images without mounting anything ({@code mkfs.ext4 -d}), into a temporary file that
 * is renamed into place only when complete.
 */
public final class Ext4Image {
    private final String mkfs;

    public Ext4Image(String mkfs) {
        this.mkfs = mkfs;
    }

    public static Ext4Image system() {
        return new Ext4Image("mkfs.ext4");
    }

    /**
     * @param content directory whose files become the image's root, or null for an empty filesystem
     */
    public void build(Path target, String label, Path content, long sizeMib, Set<PosixFilePermission> mode) {
        Path temp = target.resolveSibling("." + target.getFileName() + ".building");
        try {
            Files.deleteIfExists(temp);
            Files.createFile(temp, PosixFilePermissions.asFileAttribute(mode));
            List<String> command = new ArrayList<>(List.of(mkfs, "-q", "-F", "-L", label));
            if (content != null) {
                command.addAll(List.of("-d", content.toString()));
            }
            command.addAll(List.of(temp.toString(), sizeMib + "M"));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            // mkfs output can echo file names but never file contents; still, keep it short.
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new MvmException(ErrorCategory.INTERNAL, "mkfs.ext4 timed out building " + target.getFileName());
            }
            if (process.exitValue() != 0) {
                String text = new String(output, StandardCharsets.UTF_8).strip();
                throw new MvmException(ErrorCategory.INTERNAL, "mkfs.ext4 failed for " + target.getFileName()
                        + " (exit " + process.exitValue() + "): " + text.lines().limit(3).toList());
            }
            Files.setPosixFilePermissions(temp, mode);
            // mkfs writes through the page cache: make the bytes durable before the name points at them,
            // or a crash right after the rename can leave a valid name over a half-written filesystem.
            try (java.nio.channels.FileChannel written = java.nio.channels.FileChannel.open(temp, java.nio.file.StandardOpenOption.READ)) {
                written.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            AtomicFile.syncDirectory(target.getParent());
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot build " + target + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.INTERNAL, "interrupted while building " + target, e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort; the next build removes it
            }
        }
    }
}
