package io.mvm.runtime.vm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Taps made for a test the way the network layer would make them (no bridge: the tests only look
 * at the guest's side), deleted on close and, should the JVM be stopped, by a shutdown hook.
 */
final class TestTaps implements AutoCloseable {
    private final String prefix = "mvct" + UUID.randomUUID().toString().substring(0, 6);
    private final List<String> made = new ArrayList<>();
    private final Thread hook = new Thread(this::deleteAll, "delete-test-taps");

    TestTaps() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    synchronized String create(String id) {
        String name = prefix + id;
        ip("tuntap", "add", "dev", name, "mode", "tap");
        made.add(name);
        ip("link", "set", name, "up");
        return name;
    }

    /** Taps on this host whose name starts with this fixture's prefix. */
    int existing() {
        return (int) run("ip", "-o", "link", "show").lines().filter(l -> l.contains(prefix)).count();
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook does it
        }
        deleteAll();
    }

    private synchronized void deleteAll() {
        for (String tap : made) {
            try {
                ip("link", "del", tap);
            } catch (IllegalStateException e) {
                System.err.println(e.getMessage());
            }
        }
        made.clear();
    }

    private static void ip(String... args) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        run(command.toArray(String[]::new));
    }

    private static String run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", command) + ": " + out);
            }
            return out;
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
