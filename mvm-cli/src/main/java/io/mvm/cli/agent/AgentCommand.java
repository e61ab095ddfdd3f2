package io.mvm.cli.agent;

import io.mvm.cli.DataDirOption;
import io.mvm.core.placement.Capacity;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm agent serve}: the node agent in the foreground. */
@Command(name = "agent", description = "Run the node agent that turns the coordinator's desired state into VMs.",
        mixinStandardHelpOptions = true, subcommands = AgentCommand.Serve.class)
public final class AgentCommand {

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Register this host with a coordinator and run its instances (Ctrl-C or SIGTERM stops the "
                    + "agent; VMs keep running and are re-adopted by the next agent).")
    static final class Serve implements Runnable {
        @Spec CommandSpec spec;
        @Mixin DataDirOption dataDir;

        @Option(names = "--coordinator-url", required = true, paramLabel = "URL",
                description = "A coordinator, e.g. http://10.0.0.5:7777. Repeat it (or give a comma list) for several"
                        + " coordinators on one database: the agent fails over between them.")
        java.util.List<String> coordinatorUrls;

        @Option(names = "--fence-after-secs", defaultValue = "30", paramLabel = "SECS",
                description = "Self-fencing: after this long without reaching any coordinator the agent starts no new"
                        + " VM and takes no claim (default: ${DEFAULT-VALUE}, the coordinator's default node timeout).")
        long fenceAfterSecs;

        @Option(names = "--pause-after-secs", defaultValue = "15", paramLabel = "SECS",
                description = "Self-fencing: this much longer still unreachable and it pauses (never destroys) its"
                        + " running VMs; they resume when a coordinator answers and still wants them"
                        + " (default: ${DEFAULT-VALUE}). Keep fence-after + pause-after below twice the node timeout.")
        long pauseAfterSecs;

        @Option(names = "--interval-secs", defaultValue = "5", paramLabel = "N",
                description = "Heartbeat and report interval (default: ${DEFAULT-VALUE}).")
        int intervalSecs;

        @Option(names = "--node-id", paramLabel = "ID", description = "This node's id (default: the host name).")
        String nodeId;

        @Option(names = "--token", paramLabel = "TOKEN",
                description = "Node token (default: $MVM_NODE_TOKEN, else <data-dir>/agent/node.token).")
        String token;

        @Option(names = "--token-file", paramLabel = "FILE", description = "Read the node token from FILE.")
        Path tokenFile;

        @Option(names = "--listen", defaultValue = "127.0.0.1:0", paramLabel = "HOST:PORT",
                description = "Address of the relay server the coordinator uses for exec and logs (default: ${DEFAULT-VALUE}).")
        String listen;

        @Option(names = "--capacity-vcpus", paramLabel = "N", description = "vCPUs offered (default: host CPUs x 4).")
        Integer capacityVcpus;

        @Option(names = "--capacity-mem", paramLabel = "MiB", description = "Memory offered (default: host memory - 1 GiB).")
        Long capacityMem;

        @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A node label (repeatable).")
        Map<String, String> labels = new LinkedHashMap<>();

        @Option(names = "--network", defaultValue = "host", paramLabel = "host|none",
                description = "host: tenant bridges, taps and nftables on this host; none: VMs without a NIC "
                        + "(several agents on one host). Default: ${DEFAULT-VALUE}.")
        String network;

        @Option(names = "--net-table", defaultValue = "mvm", paramLabel = "NAME",
                description = "nftables table name owning this agent's rules and devices (default: ${DEFAULT-VALUE}).")
        String netTable;

        @Option(names = "--proxy-listen", defaultValue = "0.0.0.0", paramLabel = "ADDRESS",
                description = "Address the routes' host ports listen on (default: ${DEFAULT-VALUE}).")
        String proxyListen;

        @Option(names = "--proxy-max-held", defaultValue = "256", paramLabel = "N",
                description = "Connections one route holds while its instance wakes; more are refused (reset)."
                        + " Default: ${DEFAULT-VALUE}.")
        int proxyMaxHeld;

        @Option(names = "--proxy-hold-timeout-secs", defaultValue = "30", paramLabel = "N",
                description = "How long a held connection waits for the wake and the guest's port before it is"
                        + " closed. Default: ${DEFAULT-VALUE}.")
        long proxyHoldSecs;

        @Option(names = "--underlay-address", paramLabel = "IPV4",
                description = "This host's address on the network between hosts: tenant networks reach their"
                        + " instances on other nodes over VXLAN from and to it (UDP 4789; the underlay must carry"
                        + " MTU 1550). Default: none (tenant networks stay on this host). To run several agents"
                        + " on one machine, start each in its own network namespace: ip netns exec NS mvm agent serve ...")
        String underlayAddress;

        @Option(names = "--network-repair-secs", defaultValue = "60", paramLabel = "N",
                description = "How often the agent re-applies the host network, repairing drift nobody caused"
                        + " through it (a deleted rule, FDB entry or VXLAN device). Default: ${DEFAULT-VALUE}.")
        int networkRepairSecs;

        @Option(names = "--netns", paramLabel = "NAME",
                description = "Run the agent inside network namespace NAME (ip netns add NAME), as if it were"
                        + " another host: its bridges, taps, nftables and VXLAN devices live there. With its own"
                        + " --data-dir, --node-id and --underlay-address, several agents share one machine.")
        String netns;

        @Option(names = "--ca-cert", paramLabel = "FILE",
                description = "The cluster CA to pin for an https coordinator (the coordinator's <data-dir>/coordinator/tls/ca.crt)."
                        + " Needed once: it is kept in <data-dir>/agent/tls/ca.crt.")
        Path caCert;

        @Option(names = "--ca-fingerprint", paramLabel = "sha256:HEX",
                description = "Pin the CA the coordinator presents if its SHA-256 fingerprint is this"
                        + " (printed by 'mvm node token create'); instead of --ca-cert.")
        String caFingerprint;

        @Option(names = "--image-dir", paramLabel = "DIR",
                description = "Where the guest image is cached (default: the data dir).")
        Path imageDir;

        @Override
        public void run() {
            if (netns != null) {
                runInNamespace();
                return;
            }
            Path dir = dataDir.resolve();
            var config = new NodeAgent.Config(dir, imageDir == null ? dir : imageDir.toAbsolutePath(),
                    coordinatorUris(coordinatorUrls), resolveToken(token, tokenFile, dir),
                    nodeId == null ? NodeAgent.defaultNodeId() : NodeId.of(nodeId),
                    capacity(dir), labels, Duration.ofSeconds(intervalSecs), NodeAgent.parseListen(listen),
                    network, netTable, proxySettings(), selfFence(fenceAfterSecs, pauseAfterSecs),
                    java.util.Optional.ofNullable(underlayAddress), Duration.ofSeconds(networkRepairSecs));
            PrintWriter out = spec.commandLine().getOut();
            if (caCert != null && caFingerprint != null) {
                throw MvmException.invalid("give --ca-cert or --ca-fingerprint, not both");
            }
            var ca = caCert != null ? java.util.Optional.of(io.mvm.tls.CaPin.fromFile(caCert))
                    : caFingerprint != null ? java.util.Optional.of(io.mvm.tls.CaPin.fetch(config.coordinators().getFirst(), caFingerprint,
                            Duration.ofSeconds(10)))
                    : java.util.Optional.<java.security.cert.X509Certificate>empty();
            NodeAgent agent = NodeAgent.start(config, ca, message -> System.err.println("mvm: " + message));
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                agent.close();
                stopped.countDown();
            }, "agent-stop"));
            out.println("agent " + config.node() + " serving " + String.join(", ",
                    config.coordinators().stream().map(URI::toString).toList()) + " (accelerator "
                    + agent.accelerator().wireName() + ", relay " + agent.relayUrl() + ")");
            out.flush();
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /**
         * Starts this same command (same JVM options, class path and arguments, without --netns)
         * inside the namespace and waits for it; stopping this process stops it.
         */
        private void runInNamespace() {
            NetnsLaunch.requireNamespace(netns);
            List<String> args = new ArrayList<>(spec.commandLine().getParseResult().originalArgs());
            for (int i = 0; i < args.size(); i++) {
                if (args.get(i).equals("--netns")) {
                    args.remove(i + 1);
                    args.remove(i);
                    break;
                } else if (args.get(i).startsWith("--netns=")) {
                    args.remove(i);
                    break;
                }
            }
            List<String> argv = new ArrayList<>();
            argv.add(ProcessHandle.current().info().command().orElse("java"));
            argv.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
            argv.addAll(List.of("-cp", System.getProperty("java.class.path"), io.mvm.cli.Main.class.getName()));
            argv.addAll(args);
            Process child;
            try {
                child = new ProcessBuilder(NetnsLaunch.wrap(netns, argv)).inheritIO().start();
            } catch (IOException e) {
                throw MvmException.unavailable("cannot start the agent in network namespace " + netns + ": "
                        + e.getMessage(), e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                child.destroy();
                try {
                    child.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "agent-netns-stop"));
            try {
                int exit = child.waitFor();
                if (exit != 0) {
                    throw MvmException.unavailable("the agent in network namespace " + netns + " exited with " + exit, null);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private io.mvm.agent.proxy.ProxySettings proxySettings() {
            java.net.InetAddress address;
            try {
                address = java.net.InetAddress.getByName(proxyListen);
            } catch (java.net.UnknownHostException e) {
                throw MvmException.invalid("--proxy-listen '" + proxyListen + "' is not an address");
            }
            return io.mvm.agent.proxy.ProxySettings.defaults().withBindAddress(address)
                    .withLimits(proxyMaxHeld, Duration.ofSeconds(proxyHoldSecs));
        }

        private Capacity capacity(Path dir) {
            var d = NodeAgent.defaultCapacity(dir);
            var c = new Capacity(capacityVcpus == null ? d.vcpus() : capacityVcpus,
                    capacityMem == null ? d.memoryMib() : capacityMem, d.diskMib());
            if (c.vcpus() < 1 || c.memoryMib() < 64) {
                throw MvmException.invalid("capacity must offer at least 1 vCPU and 64 MiB, got " + c.describe());
            }
            return c;
        }
    }

    static java.util.List<URI> coordinatorUris(java.util.List<String> values) {
        var out = new java.util.ArrayList<URI>();
        for (var v : values) {
            for (var part : v.split(",")) {
                if (!part.isBlank()) {
                    out.add(coordinatorUri(part.strip()));
                }
            }
        }
        if (out.isEmpty()) {
            throw MvmException.invalid("--coordinator-url is empty");
        }
        if (out.stream().distinct().count() != out.size()) {
            throw MvmException.invalid("--coordinator-url lists a coordinator twice: " + out);
        }
        return out;
    }

    static io.mvm.core.fence.SelfFence selfFence(long fenceAfterSecs, long pauseAfterSecs) {
        if (fenceAfterSecs < 1 || fenceAfterSecs > 86_400 || pauseAfterSecs < 0 || pauseAfterSecs > 86_400) {
            throw MvmException.invalid("--fence-after-secs must be 1-86400 and --pause-after-secs 0-86400, got "
                    + fenceAfterSecs + " and " + pauseAfterSecs);
        }
        return new io.mvm.core.fence.SelfFence(Duration.ofSeconds(fenceAfterSecs), Duration.ofSeconds(pauseAfterSecs));
    }

    static URI coordinatorUri(String text) {
        try {
            var uri = URI.create(text);
            if (uri.getHost() == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
                throw new IllegalArgumentException();
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw MvmException.invalid("--coordinator-url must be http(s)://HOST:PORT, got '" + text + "'");
        }
    }

    /** --token, then --token-file, then MVM_NODE_TOKEN, then {@code <dataDir>/agent/node.token}. */
    static String resolveToken(String token, Path tokenFile, Path dataDir) {
        if (token != null && !token.isBlank()) {
            return token.strip();
        }
        if (tokenFile != null) {
            return read(tokenFile);
        }
        String env = System.getenv("MVM_NODE_TOKEN");
        if (env != null && !env.isBlank()) {
            return env.strip();
        }
        Path file = dataDir.resolve("agent").resolve("node.token");
        if (Files.isRegularFile(file)) {
            return read(file);
        }
        throw MvmException.invalid("no node token: pass --token or --token-file, set MVM_NODE_TOKEN, or put it in "
                + file + " (create one with `mvm node token create --node NODE`)");
    }

    private static String read(Path file) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (text.isEmpty()) {
                throw MvmException.invalid("token file " + file + " is empty");
            }
            return text;
        } catch (IOException e) {
            throw MvmException.invalid("cannot read token file " + file + ": " + e.getMessage());
        }
    }
}
