package io.mvm.agent.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/** Gates real-VM tests (skip with a reason, or fail under mvm.requireHostCapabilities) and cleans up after them. */
final class VmHost {
    private VmHost() {}

    static void require() {
        List<String> missing = new ArrayList<>();
        if (!"root".equals(System.getProperty("user.name"))) {
            missing.add("root");
        }
        for (String tool : List.of("/usr/bin/qemu-system-x86_64", "/usr/sbin/mkfs.ext4", "/usr/sbin/nft", "/usr/sbin/ip")) {
            if (!Files.isExecutable(Path.of(tool)) && !Files.isExecutable(Path.of(tool.replace("/usr", "")))) {
                missing.add(tool);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        String reason = "this host cannot boot test microVMs; missing: " + String.join(", ", missing);
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError(reason + " (mvm.requireHostCapabilities=true)");
        }
        Assumptions.abort(reason);
    }

    static Path sharedImageDir() {
        return Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
    }

    /** Pids of processes whose command line mentions {@code marker} (e.g. a test's data dir). */
    static List<Long> processesMentioning(String marker) {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    if (cmd.contains(marker) && cmd.contains("qemu-system")) {
                        out.add(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    static void killQemusMentioning(String marker) {
        for (long pid : processesMentioning(marker)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }
}
