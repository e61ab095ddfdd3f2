package io.mvm.runtime.qemu;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.ExclusiveFileLock;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/**
 * Host-wide claims on the VMM user ids of a {@link VmmSandbox}: {@code <registry>/<id>} holds the
 * absolute path of the directory (a VM's, or a golden snapshot's) the id belongs to, for as long as
 * that directory exists. Several runtimes on one host (agents on other data dirs, test JVMs) share
 * the registry, so claims are made under an exclusive file lock. A claim whose directory is gone
 * (destroyed without a release, a deleted test dir) is free again.
 *
 * <p>Probing starts at a hash of the directory, so a directory usually gets the same id again, and
 * the id a directory holds is recorded on the directory itself (its group), which is checked first.
 */
final class VmmIds {
    private final VmmSandbox sandbox;

    VmmIds(VmmSandbox sandbox) {
        this.sandbox = sandbox;
    }

    /** The id held by {@code owner}, claiming one if it holds none; {@code hint} is checked first. */
    int claim(Path owner, Optional<Integer> hint) {
        String key = owner.toAbsolutePath().normalize().toString();
        return ExclusiveFileLock.holding(sandbox.registry().resolve(".lock"), () -> {
            sweepStale();
            if (hint.isPresent() && inRange(hint.get()) && key.equals(holder(hint.get()).orElse(null))) {
                return hint.get();
            }
            int start = Math.floorMod(hash(key), sandbox.count());
            for (int i = 0; i < sandbox.count(); i++) {
                int id = sandbox.firstId() + (start + i) % sandbox.count();
                Optional<String> holder = holder(id);
                if (holder.isPresent() && holder.get().equals(key)) {
                    return id;
                }
                if (holder.isEmpty() || !Files.isDirectory(Path.of(holder.get()))) {
                    AtomicFile.write(file(id), key.getBytes(StandardCharsets.UTF_8), PosixFilePermissions.fromString("rw-r--r--"));
                    return id;
                }
            }
            throw new MvmException(ErrorCategory.RESOURCE_EXHAUSTED, "all " + sandbox.count() + " VMM user ids from "
                    + sandbox.firstId() + " are taken (see " + sandbox.registry() + ")");
        });
    }

    /** Gives {@code id} up if {@code owner} holds it. */
    void release(Path owner, int id) {
        if (!inRange(id)) {
            return;
        }
        String key = owner.toAbsolutePath().normalize().toString();
        ExclusiveFileLock.holding(sandbox.registry().resolve(".lock"), () -> {
            if (key.equals(holder(id).orElse(null))) {
                try {
                    Files.deleteIfExists(file(id));
                } catch (IOException e) {
                    throw new MvmException(ErrorCategory.INTERNAL, "cannot release VMM id " + id + ": " + e.getMessage(), e);
                }
            }
            return null;
        });
    }

    /**
     * Drops claims whose directory is gone (a data dir deleted without destroying its VMs, a VM set
     * aside): they are free anyway, and the registry should not keep growing. Under the lock.
     */
    private void sweepStale() {
        try (var files = Files.list(sandbox.registry())) {
            for (Path f : files.filter(f -> f.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                String holder = Files.readString(f, StandardCharsets.UTF_8).strip();
                if (holder.isEmpty() || !Files.isDirectory(Path.of(holder))) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot sweep " + sandbox.registry() + ": " + e.getMessage(), e);
        }
    }

    void releaseUnder(Path root) {
        String prefix = root.toAbsolutePath().normalize() + "/";
        ExclusiveFileLock.holding(sandbox.registry().resolve(".lock"), () -> {
            try (var files = Files.list(sandbox.registry())) {
                for (Path f : files.filter(f -> f.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                    if (Files.readString(f, StandardCharsets.UTF_8).strip().startsWith(prefix)) {
                        Files.deleteIfExists(f);
                    }
                }
            } catch (IOException e) {
                throw new MvmException(ErrorCategory.INTERNAL, "cannot clean " + sandbox.registry() + ": " + e.getMessage(), e);
            }
            return null;
        });
    }

    boolean inRange(int id) {
        return sandbox.enabled() && id >= sandbox.firstId() && id < sandbox.firstId() + sandbox.count();
    }

    Optional<String> holder(int id) {
        try {
            return Optional.of(Files.readString(file(id), StandardCharsets.UTF_8).strip());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot read " + file(id) + ": " + e.getMessage(), e);
        }
    }

    private Path file(int id) {
        return sandbox.registry().resolve(Integer.toString(id));
    }

    private static int hash(String key) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return ((d[0] & 0xff) << 24) | ((d[1] & 0xff) << 16) | ((d[2] & 0xff) << 8) | (d[3] & 0xff);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
