package io.mvm.cli.up;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.DataDirOption;
import io.mvm.cli.agent.NodeAgent;
import io.mvm.cli.client.CoordinatorClient;
import io.mvm.cli.client.Table;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.model.MvmException;
import io.mvm.runtime.bootstrap.HostBootstrap;
import io.mvm.runtime.image.ImageBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mvm up}: the fleet-of-one. Bootstraps the host on first use, starts the coordinator
 * (SQLite under the data dir) and a node agent for this host in one process, creates a demo tenant
 * with two running workers on an empty database, waits for them and says what to try next. Ctrl-C
 * stops the coordinator and the agent; VMs keep running (and are re-adopted by the next
 * {@code mvm up}) unless {@code --stop-vms-on-exit}.
 */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = "Run a fleet of one on this host: coordinator + agent in one process (bootstraps on first use).")
public final class UpCommand implements Runnable {
    static final String DEMO_TENANT = "demo";
    static final String DEMO_POOL = "workers";
    private static final Duration DEMO_WAIT = Duration.ofMinutes(10);

    @Spec CommandSpec spec;
    @Mixin DataDirOption dataDir;

    @Option(names = "--listen", defaultValue = "127.0.0.1:7777", paramLabel = "HOST:PORT",
            description = "Where the coordinator API listens (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--stop-vms-on-exit", description = "Stop this host's VMs (and remove their network) on Ctrl-C.")
    boolean stopVmsOnExit;

    @Option(names = "--no-demo", description = "Do not create the demo tenant and pool on an empty database.")
    boolean noDemo;

    @Option(names = "--interval-secs", defaultValue = "2", paramLabel = "N",
            description = "Agent heartbeat/report interval (default: ${DEFAULT-VALUE}).")
    int intervalSecs;

    @Option(names = "--network", defaultValue = "host", paramLabel = "host|none",
            description = "Tenant networking for the VMs (default: ${DEFAULT-VALUE}).")
    String network;

    @Option(names = "--vms", paramLabel = "FILE",
            description = "A desired-VMs file (TOML): applied at start and whenever it changes; see 'mvm vms validate'.")
    Path vmsFile;

    @Option(names = "--insecure",
            description = "Plain HTTP between CLI, coordinator and agent instead of TLS (logs a warning).")
    boolean insecure;

    @Option(names = "--image-dir", paramLabel = "DIR", hidden = true,
            description = "Where the guest image is cached (default: the data dir); tests share one image this way.")
    Path imageDir;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = dataDir.resolve();
        Path images = imageDir == null ? dir : imageDir.toAbsolutePath();
        var listenAt = CoordinatorConfig.parseListen(listen);
        var progress = (io.mvm.runtime.image.ProgressListener) message -> {
            out.println("  " + message);
            out.flush();
        };

        out.println("mvm up: data dir " + dir);
        out.flush();
        if (!Files.isRegularFile(images.resolve("images").resolve(ImageBuilder.DEFAULT_IMAGE).resolve(ImageBuilder.METADATA_FILE))) {
            out.println("first run: bootstrapping this host (packages, guest kernel, default image)");
            out.flush();
        }
        HostBootstrap.forThisHost(progress).run(new HostBootstrap.Options(images,
                Optional.ofNullable(System.getenv(ImageBuilder.KERNEL_PIN_ENV)), true), progress);

        CoordinatorConfig config = CoordinatorConfig.defaults(dir)
                .withListen(listenAt.host(), listenAt.port())
                .withTls((insecure ? io.mvm.coordinator.tls.ControlTls.INSECURE : io.mvm.coordinator.tls.ControlTls.SECURE)
                        .withSans(sans(listenAt.host())));
        Coordinator coordinator = Coordinator.start(config);
        if (vmsFile != null) {
            var result = coordinator.watchDesiredVms(vmsFile, Duration.ofSeconds(1)).last();
            out.println("desired-VMs file " + vmsFile + (result.applied() ? ": applied, watched for changes"
                    : ": REJECTED (" + result.problems().size() + " problem(s), see the log); watched for changes"));
            out.flush();
        }
        NodeAgent agent;
        URI url = URI.create(coordinator.scheme() + "://" + (listenAt.host().contains(":") ? "[" + listenAt.host() + "]" : listenAt.host())
                + ":" + coordinator.port());
        try {
            var node = NodeAgent.defaultNodeId();
            var nodeToken = StoredNodeToken.reuseOrIssue(StoredNodeToken.fileIn(dir), node,
                    coordinator::acceptsNodeToken, () -> coordinator.issueNodeToken(node));
            // The agent pins the CA of the coordinator it runs beside (a fleet of one needs no enrolment step).
            agent = NodeAgent.start(new NodeAgent.Config(dir, images, url, nodeToken, node, NodeAgent.defaultCapacity(dir),
                    Map.of(), Duration.ofSeconds(intervalSecs), NodeAgent.parseListen("127.0.0.1:0"), network,
                    "mvm"), Optional.of(coordinator.controlChannel().caCertificate()), progress);
        } catch (RuntimeException e) {
            coordinator.stop();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                agent.close();
                if (stopVmsOnExit) {
                    agent.stopAllVms();
                    agent.runtime().removeNetwork();
                }
            } finally {
                coordinator.stop();
                stopped.countDown();
            }
        }, "mvm-up-stop"));

        out.println("coordinator on " + url + " (database " + config.database().display() + "), agent "
                + NodeAgent.defaultNodeId() + " (accelerator " + agent.accelerator().wireName() + ")");
        out.flush();
        var admin = new CoordinatorClient(URI.create(url + "/"), adminToken(coordinator.adminTokenFile()),
                insecure ? Optional.empty() : Optional.of(io.mvm.tls.TlsContexts.of(Optional.empty(),
                        io.mvm.tls.ClusterTrust.coordinator(coordinator.controlChannel().caCertificate(),
                                java.time.InstantSource.system()))));
        try {
            int minimum = 0;
            if (!noDemo && admin.get("v1/tenants").path("items").isEmpty()) {
                createDemo(admin, out);
                minimum = 2;
            }
            waitForInstances(admin, out, minimum);
        } catch (MvmException e) {
            out.println("mvm up: " + e.getMessage() + " (coordinator and agent keep running)");
        }
        printNextSteps(out, url, dir);
        out.println("Press Ctrl-C to stop the coordinator and the agent"
                + (stopVmsOnExit ? " and this host's VMs." : "; VMs keep running and the next `mvm up` re-adopts them."));
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void createDemo(CoordinatorClient admin, PrintWriter out) {
        out.println("empty database: creating tenant '" + DEMO_TENANT + "' and pool '" + DEMO_TENANT + "/" + DEMO_POOL
                + "' with 2 running workers");
        out.flush();
        admin.post("v1/tenants", Map.of("id", DEMO_TENANT));
        Map<String, Object> pool = new LinkedHashMap<>();
        pool.put("name", DEMO_POOL);
        pool.put("role", "worker");
        pool.put("profile", "minimal");
        pool.put("flake", ".");
        pool.put("vcpus", 1);
        pool.put("memory_mib", 256);
        pool.put("data_disk_mib", 64);
        pool.put("running", 2);
        admin.post("v1/tenants/" + DEMO_TENANT + "/pools", pool);
    }

    /** Waits until every instance that should run does (or the deadline passes), then prints them. */
    private static void waitForInstances(CoordinatorClient admin, PrintWriter out, int minimum) {
        Instant deadline = Instant.now().plus(DEMO_WAIT);
        List<JsonNode> instances = List.of();
        String last = "";
        while (Instant.now().isBefore(deadline)) {
            instances = allInstances(admin);
            long wanted = instances.stream().filter(i -> i.path("desired_state").asText().equals("running")).count();
            long running = instances.stream().filter(i -> i.path("state").asText().equals("running")).count();
            String now = running + "/" + wanted + " instances running";
            if (!now.equals(last)) {
                out.println("  " + now);
                out.flush();
                last = now;
            }
            if (running >= wanted && running >= minimum) {
                break;
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        Table table = new Table("INSTANCE", "TENANT", "POOL", "STATE", "IP", "NODE");
        for (JsonNode i : instances) {
            table.row(i.path("id").asText(), i.path("tenant").asText(), i.path("pool").asText(),
                    i.path("state").asText(), i.path("ip").asText("-"), i.path("node").asText("-"));
        }
        out.println();
        table.print(out);
    }

    private static List<JsonNode> allInstances(CoordinatorClient admin) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode t : admin.list("v1/tenants", java.util.OptionalInt.empty()).path("items")) {
            admin.list("v1/tenants/" + t.path("id").asText() + "/instances", java.util.OptionalInt.empty()).path("items").forEach(out::add);
        }
        return out;
    }

    private static void printNextSteps(PrintWriter out, URI url, Path dir) {
        String env = url.toString().equals("https://127.0.0.1:7777") ? "" : "MVM_COORDINATOR_URL=" + url + " ";
        // The admin token sits under the data dir, readable by its owner only: run as the same user.
        if ("root".equals(System.getProperty("user.name"))) {
            env = "sudo " + env;
        }
        String data = dir.equals(DataDirOption.defaultDataDir()) ? "" : " --data-dir " + dir;
        out.println();
        out.println("Try next (in another terminal):");
        out.println("  " + env + "./mvm instance list " + DEMO_TENANT + data);
        out.println("  " + env + "./mvm instance exec ID" + data + " -- uname -a");
        out.println("  " + env + "./mvm instance logs ID" + data);
        out.println("  " + env + "./mvm pool scale " + DEMO_TENANT + "/" + DEMO_POOL + " --running 1 --warm 1" + data);
        out.println("  " + env + "./mvm node list" + data);
        out.println();
    }

    private static List<String> sans(String listenHost) {
        var sans = new java.util.LinkedHashSet<>(io.mvm.coordinator.tls.ControlTls.DEFAULT_SANS);
        if (!listenHost.equals("0.0.0.0") && !listenHost.equals("::")) {
            sans.add(listenHost);
        }
        return List.copyOf(sans);
    }

    private static String adminToken(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw MvmException.precondition("cannot read the admin token " + file + ": " + e.getMessage());
        }
    }
}
