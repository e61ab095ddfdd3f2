package io.mvm.cli.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.Main;
import io.mvm.cli.client.CoordinatorClient;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.model.NodeId;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import picocli.CommandLine;

/**
 * A real fleet for one test class: the coordinator in this JVM (SQLite in a temp dir, random port,
 * short node timeouts) and agents as {@code mvm agent serve} child processes, each with its own
 * data dir and node id and the shared test image, so they can be killed with -9. Closing it kills
 * the agents, every QEMU whose command line mentions the temp dir, stops the coordinator and
 * deletes the temp dir — also after a failed test.
 */
final class Fleet implements AutoCloseable {
    final Path root;
    Coordinator coordinator;
    private final CoordinatorConfig config;
    final String url;
    final CoordinatorClient admin;
    private final List<Agent> agents = new ArrayList<>();
    private final ChildCleanup cleanup;

    /** One {@code mvm agent serve} process (restartable: same node id, data dir and token). */
    final class Agent {
        final String node;
        final Path dataDir;
        final String token;
        /** The nftables table of a networked agent (tenant bridges, taps), empty for {@code --network none}. */
        final java.util.Optional<String> netTable;
        /** The simulated host (network namespace, underlay address) the agent runs in, if not this one. */
        final java.util.Optional<MultiHost.Host> host;
        final List<String> capacity;
        /** Started as {@code agent serve --netns NAME} (a parent that re-executes itself in the namespace). */
        final boolean viaNetnsOption;
        Process process;

        Agent(String node, Path dataDir, String token, java.util.Optional<String> netTable) {
            this(node, dataDir, token, netTable, java.util.Optional.empty(), List.of("--capacity-vcpus", "4",
                    "--capacity-mem", "1024"), false);
        }

        Agent(String node, Path dataDir, String token, java.util.Optional<String> netTable,
              java.util.Optional<MultiHost.Host> host, List<String> capacity, boolean viaNetnsOption) {
            this.viaNetnsOption = viaNetnsOption;
            this.node = node;
            this.dataDir = dataDir;
            this.token = token;
            this.netTable = netTable;
            this.host = host;
            this.capacity = capacity;
        }

        void start() throws IOException {
            var command = new ArrayList<>(List.of(
                    ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "agent", "serve", "--coordinator-url", url, "--interval-secs", "1", "--node-id", node,
                    "--data-dir", dataDir.toString(), "--image-dir", VmHost.sharedImageDir().toString()));
            command.addAll(capacity);
            if (host.isPresent()) {
                command.addAll(List.of("--underlay-address", host.get().underlay(), "--listen",
                        host.get().underlay() + ":0"));
            }
            if (netTable.isPresent()) {
                command.addAll(List.of("--network", "host", "--net-table", netTable.get()));
            } else {
                command.addAll(List.of("--network", "none"));
            }
            // In its own host: either through the supported option, or wrapped exactly as that option
            // wraps its child, so the process is the agent itself and kill -9 stays a crash.
            if (host.isPresent() && viaNetnsOption) {
                command.addAll(List.of("--netns", host.get().netns()));
            }
            var argv = host.isPresent() && !viaNetnsOption
                    ? io.mvm.cli.agent.NetnsLaunch.wrap(host.get().netns(), command) : command;
            var pb = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolveSibling(node + ".log").toFile()));
            pb.environment().put("MVM_NODE_TOKEN", token);
            pb.environment().remove("MVM_DATA_DIR");
            process = pb.start();
            cleanup.track(process);
        }

        /** SIGSTOP: the agent freezes (its VMs run on), as a process stuck or a host paused would. */
        void freeze() throws IOException, InterruptedException {
            signal("STOP");
        }

        /** SIGCONT after {@link #freeze()}. */
        void thaw() throws IOException, InterruptedException {
            signal("CONT");
        }

        private void signal(String name) throws IOException, InterruptedException {
            int exit = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
            if (exit != 0) {
                throw new IOException("kill -" + name + " " + process.pid() + " exited " + exit);
            }
        }

        /** SIGKILL: no shutdown hook runs, exactly like a crash. */
        void kill9() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor();
        }

        List<Long> qemus() {
            return VmHost.qemusMentioning(dataDir.toString() + "/");
        }

        String log() {
            try {
                return Files.readString(dataDir.resolveSibling(node + ".log"));
            } catch (IOException e) {
                return "";
            }
        }
    }

    private Fleet(Path root, Coordinator coordinator, CoordinatorConfig config) throws IOException {
        this.root = root;
        this.coordinator = coordinator;
        this.config = config.withListen(config.host(), coordinator.port());
        this.url = "http://" + config.host() + ":" + coordinator.port();
        this.admin = new CoordinatorClient(URI.create(url + "/"), Files.readString(coordinator.adminTokenFile()).strip());
        this.cleanup = new ChildCleanup(root);
    }

    /** The tail of every agent's log, for a failed test's report. */
    String agentLogs() {
        var out = new StringBuilder();
        for (var a : agents) {
            out.append("----- agent ").append(a.node).append(" (").append(a.dataDir.resolveSibling(a.node + ".log"))
                    .append(")\n").append(VmHost.tail(a.dataDir.resolveSibling(a.node + ".log"), 150)).append('\n');
        }
        return out.toString();
    }

    static Fleet start(String prefix, Duration nodeTimeout, Duration heartbeat) throws IOException {
        return start(prefix, nodeTimeout, heartbeat, "127.0.0.1");
    }

    /** A fleet whose coordinator listens on {@code listen} (the underlay bridge's address of a {@link MultiHost}). */
    static Fleet start(String prefix, Duration nodeTimeout, Duration heartbeat, String listen) throws IOException {
        VmHost.require();
        Path root = Files.createTempDirectory(prefix);
        try {
            var config = CoordinatorConfig.defaults(root.resolve("coordinator-home")).withListen(listen, 0)
                    .withNodeTimeouts(nodeTimeout, heartbeat).withHousekeepingInterval(Duration.ofMillis(500));
            return new Fleet(root, Coordinator.start(config), config);
        } catch (IOException | RuntimeException e) {
            VmHost.deleteTree(root);
            throw e;
        }
    }

    /** An agent with the host network: tenant bridges, taps and nftables under its own table {@code netTable}. */
    Agent networkedAgent(String node, String netTable) throws IOException {
        Path dir = root.resolve(node);
        Files.createDirectories(dir);
        var agent = new Agent(node, dir, coordinator.issueNodeToken(NodeId.of(node)), java.util.Optional.of(netTable));
        agents.add(agent);
        agent.start();
        return agent;
    }

    /** Stops the coordinator (agents' calls fail meanwhile), waits {@code downtime}, starts it again on the same port. */
    void restartCoordinator(Duration downtime) throws InterruptedException {
        coordinator.stop();
        Thread.sleep(downtime.toMillis());
        coordinator = Coordinator.start(config);
    }

    /**
     * A networked agent inside a simulated host ({@link MultiHost}): started as {@code agent serve
     * --netns}, with the host's underlay address (VXLAN) and its relay listening on it.
     */
    Agent networkedAgentIn(MultiHost.Host host, String node, String netTable, int vcpus, long memoryMib,
                           boolean viaNetnsOption) throws IOException {
        Path dir = root.resolve(node);
        Files.createDirectories(dir);
        var agent = new Agent(node, dir, coordinator.issueNodeToken(NodeId.of(node)), java.util.Optional.of(netTable),
                java.util.Optional.of(host), List.of("--capacity-vcpus", Integer.toString(vcpus), "--capacity-mem",
                        Long.toString(memoryMib), "--network-repair-secs", "5"), viaNetnsOption);
        agents.add(agent);
        agent.start();
        return agent;
    }

    Agent agent(String node) throws IOException {
        Path dir = root.resolve(node);
        Files.createDirectories(dir);
        var agent = new Agent(node, dir, coordinator.issueNodeToken(NodeId.of(node)), java.util.Optional.empty());
        agents.add(agent);
        agent.start();
        return agent;
    }

    JsonNode get(String path) {
        return admin.get(path.startsWith("/") ? path.substring(1) : path);
    }

    JsonNode post(String path, Object body) {
        return admin.post(path.startsWith("/") ? path.substring(1) : path, body);
    }

    JsonNode patch(String path, Object body) {
        return admin.patch(path.startsWith("/") ? path.substring(1) : path, body);
    }

    List<JsonNode> instances(String tenant) {
        return StreamSupport.stream(get("v1/tenants/" + tenant + "/instances").path("items").spliterator(), false)
                .toList();
    }

    List<JsonNode> instances(String tenant, String pool) {
        return instances(tenant).stream().filter(i -> i.path("pool").asText().equals(pool)).toList();
    }

    List<JsonNode> events(String instance) {
        return StreamSupport.stream(get("v1/instances/" + instance + "/events?limit=200").path("items").spliterator(),
                false).toList();
    }

    JsonNode node(String id) {
        return get("v1/nodes/" + id);
    }

    void createPool(String tenant, String pool, String role, long memoryMib, int running, Object... extra) {
        var body = new java.util.HashMap<String, Object>(Map.of("name", pool, "role", role, "profile", "minimal",
                "flake", ".", "vcpus", 1, "memory_mib", memoryMib, "data_disk_mib", 16, "running", running));
        for (int i = 0; i < extra.length; i += 2) {
            body.put((String) extra[i], extra[i + 1]);
        }
        post("v1/tenants/" + tenant + "/pools", body);
    }

    void scale(String tenant, String pool, int running, int warm, int sleeping) {
        patch("v1/tenants/" + tenant + "/pools/" + pool, Map.of("running", running, "warm", warm, "sleeping", sleeping));
    }

    record Run(int exit, String out, String err) {}

    /** The real picocli command line, in this JVM, against this fleet. */
    Run mvm(String... args) {
        return mvmWatching(text -> { }, args);
    }

    /** As {@link #mvm}, also handing each piece of standard output to {@code onOutput} as it is printed. */
    Run mvmWatching(java.util.function.Consumer<String> onOutput, String... args) {
        var all = new ArrayList<>(List.of(args));
        int dashes = all.indexOf("--");
        var options = List.of("--coordinator-url=" + url, "--data-dir=" + root.resolve("coordinator-home"));
        if (dashes >= 0) {
            all.addAll(dashes, options);
        } else {
            all.addAll(options);
        }
        CommandLine cli = Main.commandLine();
        var out = new StringWriter();
        var err = new StringWriter();
        cli.setOut(new PrintWriter(new java.io.Writer() {
            @Override
            public void write(char[] chars, int offset, int length) {
                String text = new String(chars, offset, length);
                synchronized (out) {
                    out.write(text);
                }
                onOutput.accept(text);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        }, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    /** Destroys every VM under a data dir through the runtime (kills the VMM, removes its cgroup and files). */
    static void destroyVms(Path dataDir) {
        try {
            var vms = io.mvm.cli.vm.LocalRuntime.open(dataDir, VmHost.sharedImageDir(), java.util.Optional.empty());
            for (var vm : vms.list()) {
                try {
                    vms.destroy(vm.name());
                } catch (RuntimeException e) {
                    // The caller still kills leftover VMMs by command line; say why this did not work.
                    System.err.println("cleanup: cannot destroy VM " + vm.name() + ": " + e.getMessage());
                }
            }
        } catch (RuntimeException e) {
            // nothing to destroy
        }
    }

    @Override
    public void close() {
        for (var a : agents) {
            if (a.process != null) {
                // An agent started with --netns runs as a child of the process started here.
                a.process.descendants().forEach(ProcessHandle::destroyForcibly);
                a.process.destroyForcibly();
                try {
                    a.process.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        for (var a : agents) {
            destroyVms(a.dataDir);
        }
        for (var a : agents) {
            if (a.host.isPresent()) {
                continue; // its namespace goes, with everything in it, when the MultiHost closes
            }
            a.netTable.ifPresent(table -> {
                try {
                    new io.mvm.runtime.hostnet.HostNetworkApplier(io.mvm.runtime.hostnet.HostCommands.onThisHost())
                            .removeAll(table);
                } catch (RuntimeException e) {
                    System.err.println("cleanup: cannot remove network table " + table + ": " + e.getMessage());
                }
            });
        }
        cleanup.run();
        try {
            coordinator.stop();
        } finally {
            VmHost.deleteTree(root);
        }
    }
}
