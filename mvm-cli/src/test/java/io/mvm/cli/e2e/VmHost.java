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

    static void killQemusMentioning(String marker) {
        for (long pid : qemusMentioning(marker)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
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
