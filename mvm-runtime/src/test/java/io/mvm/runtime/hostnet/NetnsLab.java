package io.mvm.runtime.hostnet;

import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.TenantNetwork;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Real kernel networking without VMs: one network namespace plays the host (its bridges, ports and
 * nftables tables are the ones under test), one namespace per instance plays the guest behind a
 * veth pair whose host end is the instance's port, and an optional namespace plays the outside
 * world behind the host's uplink. Names carry a random id so concurrent runs never collide;
 * {@link #close()} kills every process it started and deletes every namespace, which takes the
 * bridges, veths and tables inside them along.
 */
final class NetnsLab implements AutoCloseable {
    static final String OUTSIDE_ADDRESS = "198.18.0.2";
    static final String UPLINK = "up0";

    final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    final String hostNs = "mvh" + id;
    final String table = "mvm_t" + id;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private int guests;

    NetnsLab() {
        addNamespace(hostNs);
        exec(hostNs, "ip", "link", "set", "lo", "up");
        // Routing between bridges must be possible, so a denial is the rules' doing, not the kernel's.
        exec(hostNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    }

    HostCommands host() {
        return HostCommands.inNamespace(hostNs);
    }

    /** A namespace reachable through the host's uplink; it has no route back to tenant subnets. */
    String addOutside() {
        String ns = "mvo" + id;
        addNamespace(ns);
        exec(hostNs, "ip", "link", "add", UPLINK, "type", "veth", "peer", "name", "eth0", "netns", ns);
        exec(hostNs, "ip", "addr", "add", "198.18.0.1/30", "dev", UPLINK);
        exec(hostNs, "ip", "link", "set", UPLINK, "up");
        exec(ns, "ip", "link", "set", "lo", "up");
        exec(ns, "ip", "addr", "add", OUTSIDE_ADDRESS + "/30", "dev", "eth0");
        exec(ns, "ip", "link", "set", "eth0", "up");
        return ns;
    }

    /** Creates the guest namespace for an instance, wired as the guest image would configure itself. */
    String addGuest(InstancePort port, TenantNetwork tenant) {
        String ns = "mvg" + id + "n" + (guests++);
        addNamespace(ns);
        exec(hostNs, "ip", "link", "add", port.portName(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        exec(ns, "ip", "link", "set", "lo", "up");
        exec(ns, "ip", "link", "set", "eth0", "address", port.mac().value());
        exec(ns, "ip", "addr", "add", port.address() + "/" + tenant.subnet().prefixLength(), "dev", "eth0");
        exec(ns, "ip", "link", "set", "eth0", "up");
        exec(ns, "ip", "route", "add", "default", "via", tenant.bridgeAddress().toString());
        return ns;
    }

    private void addNamespace(String ns) {
        run(List.of("ip", "netns", "add", ns), true);
        namespaces.add(ns);
    }

    String exec(String ns, String... argv) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        command.addAll(List.of(argv));
        return run(command, true).output;
    }

    /** Runs a command in a namespace and returns whether it exited 0. */
    boolean succeeds(String ns, String... argv) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        command.addAll(List.of(argv));
        return run(command, false).exit == 0;
    }

    boolean ping(String fromNs, String address) {
        return succeeds(fromNs, "ping", "-n", "-q", "-c", "1", "-W", "2", address);
    }

    /** Ping with a few tries, for the positive cases (ARP and a loaded host can lose the first one). */
    boolean pingEventually(String fromNs, String address) {
        for (int i = 0; i < 5; i++) {
            if (ping(fromNs, address)) {
                return true;
            }
        }
        return false;
    }

    /** Starts a one-connection TCP listener in a namespace; killed on close at the latest. */
    void listenTcp(String ns, int port) {
        try {
            processes.add(new ProcessBuilder("ip", "netns", "exec", ns, "busybox", "nc", "-l", "-p", String.valueOf(port))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        waitForListener(ns, port);
    }

    private void waitForListener(String ns, int port) {
        for (int i = 0; i < 100; i++) {
            if (exec(ns, "ss", "-Hltn", "sport = :" + port).contains(":" + port)) {
                return;
            }
            sleep(100);
        }
        throw new IllegalStateException("listener on port " + port + " in " + ns + " did not start");
    }

    boolean tcpConnects(String fromNs, String address, int port) {
        return succeeds(fromNs, "busybox", "nc", "-w", "3", address, String.valueOf(port));
    }

    /** Sends one UDP datagram with bash's /dev/udp (no UDP client in busybox nc here). */
    void sendUdp(String fromNs, String address, int port) {
        succeeds(fromNs, "bash", "-c", "echo probe > /dev/udp/" + address + "/" + port);
    }

    static final int TCP_PORT = 7000;
    static final int UDP_PORT = 7001;

    /**
     * Counts what arrives at a namespace's own input hook, in a probe table inside that namespace:
     * the receiving kernel's own view of whether a packet got through.
     */
    void installProbe(String ns) {
        String script = """
                table inet probe {
                	chain in {
                		type filter hook input priority -10; policy accept;
                		icmp type echo-request counter comment "icmp"
                		tcp dport %d counter comment "tcp"
                		udp dport %d counter comment "udp"
                	}
                }
                """.formatted(TCP_PORT, UDP_PORT);
        run(List.of("ip", "netns", "exec", ns, "nft", "-f", "-"), true, script);
    }

    long probeCount(String ns, String comment) {
        return counter(exec(ns, "nft", "list", "table", "inet", "probe"), comment);
    }

    /** Packets counted by the rule whose comment contains {@code comment}, in a listing with counters. */
    static long counter(String listing, String comment) {
        long total = 0;
        boolean found = false;
        Pattern packets = Pattern.compile("counter packets (\\d+) ");
        for (String line : listing.split("\n")) {
            if (line.contains(comment)) {
                Matcher m = packets.matcher(line);
                if (m.find()) {
                    total += Long.parseLong(m.group(1));
                    found = true;
                }
            }
        }
        if (!found) {
            throw new IllegalStateException("no counter rule with comment '" + comment + "' in:\n" + listing);
        }
        return total;
    }

    long hostCounter(String family, String comment) {
        return counter(exec(hostNs, "nft", "list", "table", family, table), comment);
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : namespaces.reversed()) {
            run(List.of("ip", "netns", "del", ns), false);
        }
    }

    private record Result(int exit, String output) {}

    private static Result run(List<String> command, boolean mustSucceed) {
        return run(command, mustSucceed, "");
    }

    private static Result run(List<String> command, boolean mustSucceed, String stdin) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + command);
            }
            if (mustSucceed && p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
