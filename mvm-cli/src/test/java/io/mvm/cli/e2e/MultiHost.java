package io.mvm.cli.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Several hosts on one machine, for tests: each host is a network namespace whose {@code ul0} is
 * one end of a veth pair; the other ends are enslaved to one bridge in this (the test's) namespace,
 * which holds the first address of the underlay subnet — the coordinator listens there, so agents
 * in the namespaces reach it over the underlay as real nodes would. The underlay carries MTU 1550
 * (a full 1500-byte guest frame plus VXLAN's 50 bytes). Agents run in their host with
 * {@code mvm agent serve --netns} ({@link Fleet#networkedAgentIn}).
 *
 * <p>Names carry a random id (bridge {@code mvu<id>}, namespaces {@code mvn<id>h<k>}); the
 * underlay is a random /24 of 100.64.0.0/10, which nothing else here routes. {@link #close()}
 * deletes the namespaces (their bridges, taps, VXLAN devices and tables go with them) and the
 * bridge; it runs after a failed setup too, and a JVM shutdown hook runs it if the test JVM dies.
 */
final class MultiHost implements AutoCloseable {
    /** One simulated host: its namespace and its underlay address. */
    record Host(String netns, String underlay) {}

    final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    final String bridge = "mvu" + id;
    final String prefix;
    final List<Host> hosts = new ArrayList<>();
    private final Thread hook = new Thread(this::cleanUp, "multihost-cleanup");

    private MultiHost() {
        var random = new SecureRandom();
        prefix = "100." + (64 + random.nextInt(64)) + "." + random.nextInt(256);
    }

    /** The address the coordinator listens on (reachable from every host's namespace). */
    String coordinatorAddress() {
        return prefix + ".1";
    }

    static MultiHost create(int count) {
        var m = new MultiHost();
        Runtime.getRuntime().addShutdownHook(m.hook);
        try {
            run("ip", "link", "add", m.bridge, "type", "bridge");
            run("ip", "link", "set", m.bridge, "mtu", "1550");
            run("ip", "addr", "add", m.coordinatorAddress() + "/24", "dev", m.bridge);
            run("ip", "link", "set", m.bridge, "up");
            for (int k = 1; k <= count; k++) {
                var host = new Host("mvn" + m.id + "h" + k, m.prefix + "." + (k + 1));
                run("ip", "netns", "add", host.netns());
                m.hosts.add(host);
                String outer = m.bridge + "h" + k;
                run("ip", "link", "add", outer, "type", "veth", "peer", "name", "ul0", "netns", host.netns());
                run("ip", "link", "set", outer, "mtu", "1550", "master", m.bridge, "up");
                run("ip", "netns", "exec", host.netns(), "ip", "link", "set", "lo", "up");
                run("ip", "netns", "exec", host.netns(), "ip", "link", "set", "ul0", "mtu", "1550", "up");
                run("ip", "netns", "exec", host.netns(), "ip", "addr", "add", host.underlay() + "/24", "dev", "ul0");
            }
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Runs a command inside a host's namespace; returns its output, failing on a non-zero exit. */
    String exec(Host host, String... argv) {
        var command = new ArrayList<>(List.of("ip", "netns", "exec", host.netns()));
        command.addAll(List.of(argv));
        return run(command.toArray(String[]::new));
    }

    @Override
    public void close() {
        cleanUp();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }

    private void cleanUp() {
        for (var h : hosts) {
            quietly("ip", "netns", "del", h.netns());
        }
        quietly("ip", "link", "del", bridge);
    }

    private static void quietly(String... argv) {
        try {
            new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                    .waitFor(30, TimeUnit.SECONDS);
        } catch (IOException e) {
            System.err.println("cleanup: " + String.join(" ", argv) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static String run(String... argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", argv) + " failed: " + out);
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
