package io.mvm.cli.agent;

import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.coordinator.HttpCoordinatorClient;
import io.mvm.agent.coordinator.RelayEndpoint;
import io.mvm.agent.local.AgentNetwork;
import io.mvm.agent.local.LocalInstanceRuntime;
import io.mvm.agent.templates.TemplateArtifacts;
import io.mvm.agent.relay.AgentToken;
import io.mvm.agent.relay.RelayServer;
import io.mvm.cli.vm.LocalRuntime;
import io.mvm.core.placement.Capacity;
import io.mvm.model.Accelerator;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.runtime.hostnet.HostCommands;
import io.mvm.runtime.hostnet.HostNetworkApplier;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running node agent wired to the real runtime: the default guest image, {@link LocalVms} over
 * QEMU, {@link LocalInstanceRuntime} with host networking, the relay server and {@link AgentService}.
 * Shared by {@code mvm agent serve} and {@code mvm up}. Closing it stops the agent and the relay
 * server; VMs keep running (a next agent re-adopts them) unless {@link #stopAllVms()} is called.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
    public static final Duration NETWORK_REPAIR_INTERVAL = Duration.ofSeconds(60);

    /**
     * @param imageDir   where the default guest image is cached (built there on first use); the
     *                   accelerator probe result is cached there too
     * @param network    "host" (tenant bridges, taps, nftables table {@code netTable}) or "none"
     * @param underlay   this host's underlay IPv4 address: tenant networks extend over VXLAN to the
     *                   other nodes that registered one (host network only)
     */
    public record Config(Path dataDir, Path imageDir, java.util.List<URI> coordinators, String nodeToken, NodeId node,
                         Capacity capacity, Map<String, String> labels, Duration interval,
                         InetSocketAddress listen, String network, String netTable,
                         io.mvm.agent.proxy.ProxySettings proxy, io.mvm.core.fence.SelfFence fence,
                         Optional<String> underlay, Duration networkRepair) {
        /** One coordinator, the proxy's defaults, the default self-fencing and no underlay. */
        public Config(Path dataDir, Path imageDir, URI coordinator, String nodeToken, NodeId node, Capacity capacity,
                      Map<String, String> labels, Duration interval, InetSocketAddress listen, String network,
                      String netTable, io.mvm.agent.proxy.ProxySettings proxy) {
            this(dataDir, imageDir, java.util.List.of(coordinator), nodeToken, node, capacity, labels, interval, listen,
                    network, netTable, proxy, io.mvm.core.fence.SelfFence.DEFAULT, Optional.empty(),
                    NETWORK_REPAIR_INTERVAL);
        }

        /** With the proxy's defaults (routes on all addresses, 256 held connections, 30 s hold). */
        public Config(Path dataDir, Path imageDir, URI coordinator, String nodeToken, NodeId node, Capacity capacity,
                      Map<String, String> labels, Duration interval, InetSocketAddress listen, String network,
                      String netTable) {
            this(dataDir, imageDir, coordinator, nodeToken, node, capacity, labels, interval, listen, network, netTable,
                    io.mvm.agent.proxy.ProxySettings.defaults());
        }

        public Config {
            java.util.Objects.requireNonNull(proxy, "proxy");
            java.util.Objects.requireNonNull(fence, "fence");
            coordinators = java.util.List.copyOf(coordinators);
            if (coordinators.isEmpty()) {
                throw MvmException.invalid("at least one --coordinator-url is needed");
            }
            java.util.Objects.requireNonNull(underlay, "underlay");
            if (networkRepair.isNegative() || networkRepair.isZero() || networkRepair.toSeconds() > 3600) {
                throw MvmException.invalid("--network-repair-secs must be 1-3600, got " + networkRepair.toSeconds());
            }
            underlay = underlay.map(a -> io.mvm.core.netpolicy.Ipv4Address.parse(a).toString());
            if (underlay.isPresent() && !network.equals("host")) {
                throw MvmException.invalid("--underlay-address needs --network host (VXLAN devices join tenant bridges)");
            }
            if (interval.isNegative() || interval.isZero() || interval.toSeconds() > 3600) {
                throw MvmException.invalid("--interval-secs must be 1-3600, got " + interval.toSeconds());
            }
            if (!network.equals("host") && !network.equals("none")) {
                throw MvmException.invalid("--network must be 'host' or 'none', got '" + network + "'");
            }
            if (nodeToken == null || nodeToken.isBlank()) {
                throw MvmException.invalid("a node token is required (--token, --token-file, MVM_NODE_TOKEN or "
                        + dataDir.resolve("agent").resolve("node.token") + ")");
            }
        }

        @Override
        public String toString() {
            return "Config[node=" + node + ", coordinators=" + coordinators + ", dataDir=" + dataDir + ", token=<hidden>]";
        }
    }

    private final LocalInstanceRuntime runtime;
    private final RelayServer relay;
    private final AgentService agent;
    private final LocalVms vms;
    private final Thread networkRepair;

    private final Duration repairInterval;

    private NodeAgent(LocalVms vms, LocalInstanceRuntime runtime, RelayServer relay, AgentService agent,
                      Duration repairInterval) {
        this.repairInterval = repairInterval;
        this.vms = vms;
        this.runtime = runtime;
        this.relay = relay;
        this.agent = agent;
        this.networkRepair = Thread.ofVirtual().name("agent-network-repair").start(this::repairNetworkPeriodically);
    }

    /**
     * Membership changes apply the host network at once; this catches drift nobody caused through
     * the agent (a deleted rule, a downed tap) within --network-repair-secs (a minute by default). The applier changes nothing when
     * the host is already as desired.
     */
    private void repairNetworkPeriodically() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(repairInterval);
                runtime.syncNetwork();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("host network repair failed: {}", e.getMessage());
            }
        }
    }

    public static NodeAgent start(Config config, ProgressListener progress) {
        return start(config, Optional.empty(), progress);
    }

    /**
     * {@code clusterCa}: the CA to pin for an https coordinator (else the one pinned before, under
     * {@code <data>/agent/tls/ca.crt}). Over https the node enrols at its first registration and
     * renews its certificate itself; the relay then serves https to the coordinator's certificate only.
     */
    public static NodeAgent start(Config config, Optional<java.security.cert.X509Certificate> clusterCa,
                                  ProgressListener progress) {
        var image = ImageBuilder.ensureDefaultImage(config.imageDir(), progress);
        var vms = LocalRuntime.open(config.dataDir(), config.imageDir(), Optional.of(image));
        AgentNetwork network = config.network().equals("host")
                ? new AgentNetwork.Host(new HostNetworkApplier(HostCommands.onThisHost()), config.netTable(), Optional.empty(),
                        config.underlay().map(a -> new io.mvm.core.netpolicy.Overlay(
                                io.mvm.core.netpolicy.Ipv4Address.parse(a))))
                : new AgentNetwork.None();
        // Templated instances boot the revision the coordinator pins, fetched from it by digest when missing.
        boolean https = config.coordinators().stream().anyMatch(u -> "https".equals(u.getScheme()));
        var credentials = https ? Optional.of(io.mvm.agent.tls.NodeCredentials.open(config.dataDir().resolve("agent"),
                config.node(), clusterCa, InstantSource.system())) : Optional.<io.mvm.agent.tls.NodeCredentials>empty();
        // Several coordinators: every call fails over to the next when one is unreachable. All of
        // them present the one cluster CA and accept the same node certificate.
        var made = new java.util.ArrayList<HttpCoordinatorClient>();
        var client = new io.mvm.agent.coordinator.FailoverCoordinatorClient(config.coordinators(), url -> {
            var c = new HttpCoordinatorClient(url, config.nodeToken(), Duration.ofSeconds(15), InstantSource.system(),
                    credentials.map(io.mvm.agent.tls.NodeCredentials::clientContext));
            made.add(c);
            return c;
        });
        var templates = new TemplateArtifacts(config.dataDir(), Optional.of(client), InstantSource.system());
        client.reportBootedFrom(templates::booted);
        var runtime = new LocalInstanceRuntime(vms, image, network, config.dataDir(), templates);
        var recovery = runtime.recover();
        templates.collectGarbage(TemplateArtifacts.KEEP_FRESH);
        progress.step("re-adopted " + recovery.adopted().size() + " running VMs, " + recovery.failed().size()
                + " found dead, " + recovery.sweptOrphans().size() + " orphan directories swept");
        var token = AgentToken.createIn(config.dataDir());
        // Execs through the relay are background work: the idle policy keeps their instance up.
        var work = new io.mvm.agent.idle.BackgroundWork(runtime);
        // A self-fenced agent (no coordinator for longer than its lease) takes no claim: the
        // coordinator that asks may be one side of a partition that is placing the work elsewhere.
        var agentRef = new java.util.concurrent.atomic.AtomicReference<AgentService>();
        io.mvm.agent.relay.GuestAccess guests = new io.mvm.agent.relay.GuestAccess() {
            @Override
            public io.mvm.runtime.guest.GuestChannel.ExecResult exec(io.mvm.model.InstanceId id,
                    io.mvm.runtime.guest.GuestChannel.ExecRequest r, io.mvm.runtime.guest.GuestChannel.ExecOutput out) {
                return work.exec(id, r, out);
            }

            @Override
            public String consoleTail(io.mvm.model.InstanceId id, int lines) {
                return work.consoleTail(id, lines);
            }

            @Override
            public io.mvm.runtime.guest.GuestChannel.WorkloadStatus workload(io.mvm.model.InstanceId id) {
                return work.workload(id);
            }

            @Override
            public io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec) {
                var a = agentRef.get();
                if (a != null && !a.fence().acceptsNewWork()) {
                    throw MvmException.unavailable("this agent has reached no coordinator since "
                            + a.fence().lastContact() + " and is self-fenced: it takes no claims", null);
                }
                return work.claim(spec);
            }
        };
        var relay = RelayServer.start(config.listen(), guests, token,
                credentials.map(io.mvm.agent.tls.NodeCredentials::relayContext));
        // The coordinator names the relay token it presents in its registration answer.
        if (credentials.isPresent()) {
            credentials.get().onRelayToken(token::acceptFromCoordinator);
            made.forEach(c -> c.enrolWith(credentials.get()));
        } else {
            var plain = new io.mvm.agent.coordinator.Enrolment() {
                @Override
                public Optional<String> csr() {
                    return Optional.empty();
                }

                @Override
                public void accepted(Optional<String> cert, Optional<String> ca, Optional<String> relayToken) {
                    relayToken.ifPresent(token::acceptFromCoordinator);
                }
            };
            made.forEach(c -> c.enrolWith(plain));
        }
        try {
            var clock = InstantSource.system();
            var settings = AgentSettings.defaults(config.node(), config.capacity(), config.labels(), config.interval());
            var agent = new AgentService(settings, runtime, client, clock,
                    Optional.of(new RelayEndpoint(relay.url(), token.value())),
                    Optional.of(config.dataDir().resolve("agent")),
                    config.network().equals("none") ? config.proxy().withoutForwarding() : config.proxy());
            agent.idle().backgroundWork(work::running);
            if (!config.network().equals("none")) {
                // Traffic that reaches a guest without a route (its tenant's peers) keeps it up too.
                agent.idle().linkCounters(io.mvm.agent.idle.LinkCounters.procNetDev());
            }
            agent.selfFence(config.fence());
            agentRef.set(agent);
            agent.start();
            log.info("agent {} relay server on {}", config.node(), relay.url());
            var node = new NodeAgent(vms, runtime, relay, agent, config.networkRepair());
            credentials.ifPresent(c -> node.renewal = Thread.ofVirtual().name("agent-cert-renewal")
                    .start(() -> renewPeriodically(c, made, config.node())));
            return node;
        } catch (RuntimeException e) {
            relay.close();
            throw e;
        }
    }

    private volatile Thread renewal;

    /** Renews the node certificate after two thirds of its lifetime; checked every minute. */
    private static void renewPeriodically(io.mvm.agent.tls.NodeCredentials credentials,
                                          java.util.List<HttpCoordinatorClient> clients, NodeId node) {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(Duration.ofMinutes(1));
                renewIfDue(credentials, clients, node);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("node certificate renewal failed (retried in a minute): {}", e.getMessage());
            }
        }
    }

    /**
     * One renewal check: a new key and certificate when two thirds of the old one's life have
     * passed, then fresh connections to the coordinator (the relay server presents the new
     * certificate from its next handshake on by itself). True when it renewed.
     */
    public static boolean renewIfDue(io.mvm.agent.tls.NodeCredentials credentials, HttpCoordinatorClient client,
                                     NodeId node) {
        if (!credentials.renewIfDue(csr -> client.renewCertificate(node, csr))) {
            return false;
        }
        client.resetConnections();
        return true;
    }

    /**
     * As {@link #renewIfDue(io.mvm.agent.tls.NodeCredentials, HttpCoordinatorClient, NodeId)} with
     * several coordinators: the first that answers issues the certificate, every client then makes
     * fresh connections with it.
     */
    static boolean renewIfDue(io.mvm.agent.tls.NodeCredentials credentials, java.util.List<HttpCoordinatorClient> clients,
                              NodeId node) {
        RuntimeException last = null;
        for (HttpCoordinatorClient client : clients) {
            try {
                if (!credentials.renewIfDue(csr -> client.renewCertificate(node, csr))) {
                    return false;
                }
                clients.forEach(HttpCoordinatorClient::resetConnections);
                return true;
            } catch (RuntimeException e) {
                last = e;
            }
        }
        throw last == null ? MvmException.unavailable("no coordinator to renew the node certificate with", null) : last;
    }

    public URI relayUrl() {
        return relay.url();
    }

    public Accelerator accelerator() {
        return runtime.accelerator();
    }

    public LocalInstanceRuntime runtime() {
        return runtime;
    }

    public AgentService service() {
        return agent;
    }

    /** Destroys every VM of this agent and removes its host network (for {@code --stop-vms-on-exit}). */
    public void stopAllVms() {
        for (var vm : runtime.observe()) {
            try {
                vms.stop(vm.id().value(), Duration.ofSeconds(10));
            } catch (RuntimeException e) {
                log.warn("cannot stop {}: {}", vm.id(), e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        networkRepair.interrupt();
        if (renewal != null) {
            renewal.interrupt();
        }
        agent.close();
        relay.close();
    }

    // ------------------------------------------------------------------ defaults

    /** The host name, lower-cased and cut to what a node id allows. */
    public static NodeId defaultNodeId() {
        String name;
        try {
            name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            name = Optional.ofNullable(System.getenv("HOSTNAME")).orElse("node");
        }
        String clean = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "-").replaceAll("^[^a-z0-9]+", "");
        if (clean.isEmpty()) {
            clean = "node";
        }
        return NodeId.of(clean.length() > 63 ? clean.substring(0, 63) : clean);
    }

    /**
     * What this host offers to instances: vCPUs overcommitted 4:1 (a microVM's vCPU is a host thread
     * that mostly idles), memory minus 1 GiB (at least 512 MiB offered) for the host and the VMMs'
     * own overhead, disk: 90% of the data dir's free space.
     */
    public static Capacity defaultCapacity(Path dataDir) {
        int cpus = Runtime.getRuntime().availableProcessors();
        long memMib = totalMemoryMib();
        long disk;
        try {
            Files.createDirectories(dataDir);
            disk = Files.getFileStore(dataDir).getUsableSpace() / (1024 * 1024) * 9 / 10;
        } catch (IOException e) {
            disk = 10_240;
        }
        return new Capacity(cpus * 4, Math.max(512, memMib - 1024), disk);
    }

    private static long totalMemoryMib() {
        try {
            for (var line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        return 2048;
    }

    /** HOST:PORT; a bare port means 127.0.0.1. */
    public static InetSocketAddress parseListen(String text) {
        String host = "127.0.0.1";
        String port = text;
        int colon = text.lastIndexOf(':');
        if (colon >= 0) {
            host = text.substring(0, colon).replace("[", "").replace("]", "");
            port = text.substring(colon + 1);
        }
        try {
            int p = Integer.parseInt(port);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(host.isEmpty() ? "127.0.0.1" : host, p);
        } catch (NumberFormatException e) {
            throw MvmException.invalid("--listen must be HOST:PORT with a port 0-65535, got '" + text + "'");
        }
    }
}
