package io.mvm.runtime.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Runs an action while holding an exclusive lock on a file, across threads and processes (several
 * test JVMs share one image cache). A POSIX file lock belongs to the whole JVM, so a second
 * {@code lock()} from another thread fails instead of waiting; threads therefore queue on an
 * in-process lock for the same file first. This map of locks is the only process-wide state here,
 * and it exists because the file lock itself is process-wide.
 */
public final class ExclusiveFileLock {
    private static final Map<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private ExclusiveFileLock() {}

    public static <T> T holding(Path lockFile, Supplier<T> action) {
        Path key;
        try {
            Files.createDirectories(lockFile.getParent());
            key = lockFile.getParent().toRealPath().resolve(lockFile.getFileName());
        } catch (IOException e) {
            throw new ImageBuildException("cannot create " + lockFile.getParent() + ": " + e.getMessage(), e);
        }
        ReentrantLock local = IN_PROCESS.computeIfAbsent(key, p -> new ReentrantLock());
        local.lock();
        try (FileChannel channel = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = channel.lock();
            try {
                return action.get();
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new ImageBuildException("cannot lock " + key + ": " + e.getMessage(), e);
        } finally {
            local.unlock();
        }
    }
}
