package io.mvm.agent.idle;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Bytes each network device has carried (received plus sent), read once per idle tick: what a
 * guest's tap carries counts as activity even when nobody came through a route (tenant peers
 * talking to it directly, its own downloads).
 */
@FunctionalInterface
public interface LinkCounters {
    /** Device name → bytes received + sent; devices it cannot read are absent. */
    Map<String, Long> bytesByDevice();

    LinkCounters NONE = Map::of;

    /**
     * The kernel's counters as {@code /proc/self/net/dev} shows them: the agent's own network
     * namespace (a node run with {@code --netns} sees its namespace's taps, which sysfs, mounted
     * for the host, would not show).
     */
    static LinkCounters procNetDev() {
        return () -> {
            try {
                return parse(Files.readString(Path.of("/proc/self/net/dev")));
            } catch (IOException e) {
                return Map.of();
            }
        };
    }

    /** Parses {@code /proc/net/dev}: two header lines, then {@code name: rx_bytes … tx_bytes …}. */
    static Map<String, Long> parse(String text) {
        Map<String, Long> out = new HashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0 || line.contains("|")) {
                continue;
            }
            String[] fields = line.substring(colon + 1).trim().split("\\s+");
            if (fields.length < 9) {
                continue;
            }
            try {
                out.put(line.substring(0, colon).trim(), Long.parseLong(fields[0]) + Long.parseLong(fields[8]));
            } catch (NumberFormatException e) {
                // not a counters line
            }
        }
        return out;
    }
}
