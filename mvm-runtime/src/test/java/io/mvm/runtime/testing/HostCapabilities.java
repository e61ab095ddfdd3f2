package io.mvm.runtime.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Gates for tests that need the real host: skip with a reason where the capability is missing,
 * unless {@code mvm.requireHostCapabilities=true} (root runs of scripts/test, CI), where a missing
 * capability is a failure.
 */
public final class HostCapabilities {
    private HostCapabilities() {}

    public static boolean required() {
        return Boolean.getBoolean("mvm.requireHostCapabilities");
    }

    public static void require(boolean present, String what) {
        if (present) {
            return;
        }
        if (required()) {
            fail("host capability missing (and mvm.requireHostCapabilities=true): " + what);
        }
        assumeTrue(false, "skipped: " + what);
    }

    public static void requireQemu() {
        require(onPath("qemu-system-x86_64"), "qemu-system-x86_64 is not installed");
    }

    public static void requireRoot() {
        require("root".equals(System.getProperty("user.name")), "needs root");
    }

    public static boolean onPath(String tool) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
