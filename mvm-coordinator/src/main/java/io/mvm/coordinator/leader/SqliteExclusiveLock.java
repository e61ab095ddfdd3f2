package io.mvm.coordinator.leader;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * SQLite serves one coordinator: an exclusive lock on {@code <db>.lock}, next to the database,
 * held while the coordinator runs. The kernel releases it when the process dies (kill -9
 * included), so a stale lock file never blocks a restart.
 */
public final class SqliteExclusiveLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private SqliteExclusiveLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    public static Path lockFile(Path database) {
        return database.resolveSibling(database.getFileName() + ".lock");
    }

    public static SqliteExclusiveLock acquire(Path database) {
        Path file = lockFile(database.toAbsolutePath());
        FileChannel channel = null;
        try {
            Files.createDirectories(file.getParent());
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by another coordinator in this same JVM
            }
            if (lock == null) {
                channel.close();
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "another coordinator is already running on "
                        + database + " (it holds " + file + "); a SQLite database serves one coordinator, so stop"
                        + " that one first, or run several coordinators on PostgreSQL (--db postgresql://...)");
            }
            return new SqliteExclusiveLock(channel, lock);
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // The open failure is what matters.
                }
            }
            throw MvmException.invalid("cannot lock " + file + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // Closing the channel (or the process exiting) releases the lock anyway.
        }
    }
}
