package io.mvm.tls;

import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** Key and certificate files: written whole (temp file, fsync, rename), keys readable by their owner only. */
public final class SecureFiles {
    private SecureFiles() {}

    /** Writes {@code text} to {@code file} atomically; {@code secret} makes it 0600 from its creation. */
    public static void write(Path file, String text, boolean secret) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    secret ? "rw-------" : "rw-r--r--")));
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw MvmException.unavailable("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    public static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw MvmException.unavailable("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Refuses a private key others may read (as ssh does): it would not be the holder's alone. */
    public static void requirePrivate(Path key) {
        try {
            var perms = Files.getPosixFilePermissions(key);
            if (perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
                throw MvmException.precondition("private key " + key + " is readable by others ("
                        + PosixFilePermissions.toString(perms) + "); chmod 600 it");
            }
        } catch (IOException e) {
            throw MvmException.unavailable("cannot read " + key + ": " + e.getMessage(), e);
        }
    }
}
