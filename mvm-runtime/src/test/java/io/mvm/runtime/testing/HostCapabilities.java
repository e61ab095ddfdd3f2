package io.mvm.runtime.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * Gates the tests that need a real host: they skip with a reason when it lacks something, unless
 * {@code mvm.requireHostCapabilities=true} (CI as root), where a missing capability fails them.
 */
public final class HostCapabilities {
    private HostCapabilities() {}

    public static void requireVmHost() {
        List<String> missing = new ArrayList<>();
        if (!isRoot()) {
            missing.add("root");
        }
        for (String tool : List.of("qemu-system-x86_64", "mkfs.ext4", "apt-get", "dpkg-deb", "xz")) {
            if (!onPath(tool)) {
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

    /** Skips (or, under mvm.requireHostCapabilities=true, fails) unless {@code present}. */
    public static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("this host lacks " + what + " (mvm.requireHostCapabilities=true)");
        }
        Assumptions.abort("this host lacks " + what);
    }

    /** All test JVMs share one cached image here, so it is built once per host. */
    public static Path testDataDir() {
        return Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
    }

    static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static boolean onPath(String tool) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
        for (String dir : path.split(":")) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
