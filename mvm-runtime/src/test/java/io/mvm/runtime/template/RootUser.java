package io.mvm.runtime.template;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Template tests chown files, which only root may: they skip (or fail under requireHostCapabilities) otherwise. */
public final class RootUser {
    private RootUser() {}

    public static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }
}
