package io.mvm.coordinator.template;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Template artifacts on the coordinator's disk, content-addressed: {@code sha256/<hex>} holds the
 * bytes whose SHA-256 is {@code <hex>}. An upload is hashed while it is written to a temporary
 * file, fsynced, and renamed into place only when its digest is the one it was uploaded under; a
 * crash leaves at most a temporary file, swept at the next start.
 */
public final class ArtifactStore {
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
    /** Upper bound of one artifact (a root filesystem image). */
    public static final long MAX_BYTES = 64L << 30;

    private final Path root;

    public ArtifactStore(Path root) {
        this.root = root;
        try {
            Files.createDirectories(root.resolve("sha256"));
            try (Stream<Path> leftovers = Files.list(root)) {
                for (Path p : leftovers.filter(p -> p.getFileName().toString().startsWith(".upload-")).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            throw MvmException.precondition("cannot prepare the artifact store " + root + ": " + e.getMessage());
        }
    }

    /** {@code sha256:<hex>} or {@code <hex>} → the lowercase hex; anything else is refused. */
    public static String hexOf(String digest) {
        String hex = digest.startsWith("sha256:") ? digest.substring(7) : digest;
        if (!HEX.matcher(hex).matches()) {
            throw MvmException.invalid("'" + digest + "' is not a sha256 digest (sha256:<64 lowercase hex digits>)");
        }
        return hex;
    }

    public Path path(String hex) {
        return root.resolve("sha256").resolve(hexOf(hex));
    }

    public Optional<Long> size(String hex) {
        Path p = path(hex);
        try {
            return Files.isRegularFile(p) ? Optional.of(Files.size(p)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Stores {@code body} under {@code hex} if its bytes hash to it; returns the size. A digest
     * mismatch is refused and nothing is kept.
     */
    public long put(String hex, InputStream body) {
        hexOf(hex);
        Path temp = null;
        try {
            temp = Files.createTempFile(root, ".upload-", ".part");
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long size = 0;
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = body.read(buf)) > 0; ) {
                    size += n;
                    if (size > MAX_BYTES) {
                        throw new MvmException(ErrorCategory.RESOURCE_EXHAUSTED, "artifact larger than "
                                + (MAX_BYTES >> 30) + " GiB refused");
                    }
                    sha.update(buf, 0, n);
                    out.write(buf, 0, n);
                }
                out.flush();
                ch.force(true);
            }
            String actual = HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(hex)) {
                throw new DigestMismatchException("the uploaded bytes hash to sha256:" + actual + ", not sha256:" + hex
                        + " (" + size + " bytes received); nothing was stored");
            }
            Files.move(temp, path(hex), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temp = null;
            return size;
        } catch (IOException e) {
            throw MvmException.unavailable("cannot store artifact sha256:" + hex + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        } finally {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // swept at the next start
                }
            }
        }
    }

    /** Removes every stored artifact not in {@code referenced} and last written before {@code cutoff}. */
    public int retainOnly(Set<String> referenced, java.time.Instant cutoff) {
        int removed = 0;
        try (Stream<Path> files = Files.list(root.resolve("sha256"))) {
            for (Path p : files.toList()) {
                if (!referenced.contains(p.getFileName().toString())
                        && Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                    Files.deleteIfExists(p);
                    removed++;
                }
            }
        } catch (IOException e) {
            throw MvmException.unavailable("cannot sweep the artifact store: " + e.getMessage(), e);
        }
        return removed;
    }

    /** An upload whose bytes are not the digest it claimed. */
    public static final class DigestMismatchException extends io.mvm.coordinator.UnprocessableException {
        public DigestMismatchException(String message) {
            super(message);
        }
    }
}
