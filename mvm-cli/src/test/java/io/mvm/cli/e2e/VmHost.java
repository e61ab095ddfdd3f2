package io.mvm.cli.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/** Gates the end-to-end tests on a host that can boot microVMs, and finds/kills this run's VMMs. */
final class VmHost {
    private VmHost() {}

    static void require() {
        List<String> missing = new ArrayList<>();
        if (!"root".equals(System.getProperty("user.name"))) {
            missing.add("root");
        }
        for (String tool : List.of("/usr/bin/qemu-system-x86_64", "/usr/sbin/mkfs.ext4")) {
            if (!Files.isExecutable(Path.of(tool)) && !Files.isExecutable(Path.of(tool.replace("/usr", "")))) {
                missing.add(tool);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        String reason = "end-to-end tests boot microVMs; missing: " + String.join(", ", missing);
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError(reason + " (mvm.requireHostCapabilities=true)");
        }
        Assumptions.abort(reason);
    }

    /** The image every test JVM shares (built once per host). */
    static Path sharedImageDir() {
        return Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
    }

    /** QEMU processes whose command line mentions {@code marker} (a test's own temp dir). */
    static List<Long> qemusMentioning(String marker) {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    if (cmd.startsWith("qemu-system") || cmd.contains("/qemu-system")) {
                        if (cmd.contains(marker)) {
                            out.add(Long.parseLong(p.getFileName().toString()));
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /**
     * Kills the QEMUs whose command line mentions {@code marker}, waits for them to exit and removes
     * their (then empty) cgroups under {@code /mvm/}: a VMM killed behind the runtime's back leaves
     * its cgroup directory behind otherwise.
     */
    static void killQemusMentioning(String marker) {
        List<Path> groups = new ArrayList<>();
        List<ProcessHandle> killed = new ArrayList<>();
        for (long pid : qemusMentioning(marker)) {
            groups.addAll(mvmCgroupsOf(pid));
            ProcessHandle.of(pid).ifPresent(p -> {
                p.destroyForcibly();
                killed.add(p);
            });
        }
        for (var p : killed) {
            try {
                p.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("cleanup: VMM " + p.pid() + " did not exit: " + e);
            }
        }
        for (var group : groups) {
            try {
                Files.deleteIfExists(group);
            } catch (IOException e) {
                System.err.println("cleanup: cannot remove cgroup " + group + ": " + e.getMessage());
            }
        }
    }

    /** The cgroup directories (v2, or v1 cpu and memory) of a process, if they are mvm's own. */
    static List<Path> mvmCgroupsOf(long pid) {
        List<Path> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"))) {
                String[] parts = line.split(":", 3);
                if (parts.length != 3 || !parts[2].contains("/mvm/")) {
                    continue;
                }
                if (parts[1].isEmpty()) {
                    out.add(Path.of("/sys/fs/cgroup" + parts[2]));
                } else {
                    for (String controller : parts[1].split(",")) {
                        if (controller.equals("cpu") || controller.equals("memory")) {
                            out.add(Path.of("/sys/fs/cgroup", controller + parts[2]));
                        }
                    }
                }
            }
        } catch (IOException e) {
            // exited meanwhile
        }
        return out;
    }

    /** Last {@code lines} lines of a log file, for a failure report. */
    static String tail(Path file, int lines) {
        try {
            var all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log " + file + ": " + e.getMessage() + ")";
        }
    }

    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }
}
