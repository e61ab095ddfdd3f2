package io.mvm.runtime.backend;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * A VMM process identified by pid <em>and</em> start time, so a recycled pid is never mistaken for
 * ours. Reads /proc directly: the VMM is not our child after it detached.
 */
public record VmmProcess(long pid, long startTicks) {

    /** The process now running under {@code pid}, if any (zombies count as gone). */
    public static Optional<VmmProcess> of(long pid) {
        return readStat(pid).filter(stat -> stat.state != 'Z' && stat.state != 'X')
                .map(stat -> new VmmProcess(pid, stat.startTicks));
    }

    /** True while this very process (same pid, same start time) exists and is not a zombie. */
    public boolean isAlive() {
        return of(pid).map(current -> current.startTicks == startTicks).orElse(false);
    }

    /** SIGKILL, only if the pid still belongs to this process. */
    public void kill() {
        if (isAlive()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** SIGTERM, only if the pid still belongs to this process. */
    public void terminate() {
        if (isAlive()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
    }

    /** Waits until this process is gone; false if it still runs when {@code timeout} has passed. */
    public boolean awaitExit(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isAlive()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while waiting for VMM pid " + pid, e);
            }
        }
        return true;
    }

    /** SIGKILL and wait until the process is gone; a VMM that survives that is an internal error. */
    public void killAndAwait() {
        kill();
        if (!awaitExit(Duration.ofSeconds(30))) {
            throw new MvmException(ErrorCategory.INTERNAL, "VMM pid " + pid + " survived SIGKILL");
        }
    }

    private record Stat(char state, long startTicks) {}

    private static Optional<Stat> readStat(long pid) {
        try {
            String text = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
            String[] fields = text.substring(text.lastIndexOf(')') + 2).split(" ");
            // fields[0] is field 3 (state); starttime is field 22.
            return Optional.of(new Stat(fields[0].charAt(0), Long.parseLong(fields[19])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
