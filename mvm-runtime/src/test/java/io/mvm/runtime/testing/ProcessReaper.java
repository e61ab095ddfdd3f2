package io.mvm.runtime.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds and kills processes by what their command line names, for test clean-up: a test's QEMUs
 * are detached daemons (or children a dying JVM leaves behind), but every one of them names a file
 * under the test's own work directory, which no other engineer's process does.
 */
public final class ProcessReaper {
    private ProcessReaper() {}

    /** Pids of live processes (not zombies) with an argument containing {@code dir}. */
    public static List<Long> mentioning(Path dir) {
        String needle = dir.toAbsolutePath().toString();
        long self = ProcessHandle.current().pid();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.map(p -> p.getFileName().toString())
                    .filter(n -> !n.isEmpty() && n.chars().allMatch(Character::isDigit))
                    .map(Long::parseLong)
                    .filter(pid -> pid != self && !isZombie(pid))
                    .filter(pid -> commandLine(pid).stream().anyMatch(arg -> arg.contains(needle)))
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** SIGKILLs every process naming {@code dir}; returns how many it found. */
    public static int killAllMentioning(Path dir) {
        List<Long> pids = mentioning(dir);
        pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        return pids.size();
    }

    /** A JVM shutdown hook that reaps what a test under {@code dir} left running (surefire fork killed, Ctrl-C). */
    public static Thread reapOnExit(Path dir) {
        Thread hook = new Thread(() -> killAllMentioning(dir), "reap-" + dir.getFileName());
        Runtime.getRuntime().addShutdownHook(hook);
        return hook;
    }

    public static void cancel(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to
        }
    }

    private static boolean isZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    private static List<String> commandLine(long pid) {
        try {
            return List.of(new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }
}
