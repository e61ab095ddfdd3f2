package io.mvm.coordinator;

import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.auth.AdminTokenBootstrap;
import io.mvm.coordinator.auth.ApiTokens;
import io.mvm.coordinator.auth.TokenAuthenticator;
import io.mvm.coordinator.http.ApiServer;
import io.mvm.coordinator.http.relay.InstanceRelay;
import io.mvm.coordinator.instance.InstanceService;
import io.mvm.coordinator.liveness.FleetLiveness;
import io.mvm.coordinator.node.Housekeeping;
import io.mvm.coordinator.leader.ClusterStatus;
import io.mvm.coordinator.leader.LeaseElection;
import io.mvm.coordinator.leader.SqliteExclusiveLock;
import io.mvm.store.db.DatabaseUrl;
import io.mvm.coordinator.vmsfile.DesiredVmsWatcher;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.coordinator.warm.WarmPools;
import io.mvm.store.vm.VmJobStore;
import io.mvm.coordinator.node.NodeService;
import io.mvm.coordinator.pool.PoolMaterializer;
import io.mvm.coordinator.pool.PoolService;
import io.mvm.coordinator.scheduler.GenerationSignal;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.coordinator.template.ArtifactStore;
import io.mvm.coordinator.template.RolloutService;
import io.mvm.coordinator.template.TemplateService;
import io.mvm.store.template.TemplateRegistryStore;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.liveness.LivenessPolicy;
import io.mvm.core.network.Ipv4Cidr;
import io.mvm.core.network.SubnetAllocator;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.store.audit.AuditStore;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.db.ClusterSettings;
import io.mvm.store.db.Database;
import io.mvm.store.instance.InstanceStore;
import io.mvm.store.node.Node;
import io.mvm.store.node.NodeStore;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.tenant.TenantStore;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running coordinator: database, services and HTTP API wired together. Embeddable ({@code mvm
 * up} starts one in-process) and stoppable; several may share one PostgreSQL database.
 */
public final class Coordinator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Coordinator.class);
    private static final String CLUSTER_CIDR_SETTING = "cluster_cidr";

    private final Database db;
    private final ApiServer api;
    private final int port;
    private final Path adminTokenFile;
    private final Optional<Path> createdTokenFile;
    private final ApiTokens nodeTokens;
    private final Housekeeping housekeeping;
    private final GenerationSignal signal;
    private final VmJobService vmJobs;
    private final LeaseElection election;
    private final Optional<SqliteExclusiveLock> fileLock;
    private final io.mvm.coordinator.tls.ControlChannel channel;
    private final TokenAuthenticator authenticator;
    private final List<AutoCloseable> watchers = new java.util.concurrent.CopyOnWriteArrayList<>();

    private Coordinator(Database db, ApiServer api, int port, Path adminTokenFile, Optional<Path> createdTokenFile,
                        ApiTokens nodeTokens, Housekeeping housekeeping, GenerationSignal signal,
                        VmJobService vmJobs, LeaseElection election, Optional<SqliteExclusiveLock> fileLock,
                        io.mvm.coordinator.tls.ControlChannel channel, TokenAuthenticator authenticator) {
        this.election = election;
        this.fileLock = fileLock;
        this.authenticator = authenticator;
        this.channel = channel;
        this.signal = signal;
        this.vmJobs = vmJobs;
        this.nodeTokens = nodeTokens;
        this.housekeeping = housekeeping;
        this.db = db;
        this.api = api;
        this.port = port;
        this.adminTokenFile = adminTokenFile;
        this.createdTokenFile = createdTokenFile;
    }

    public static Coordinator start(CoordinatorConfig config) {
        // SQLite serves one coordinator: a second one on the same file is refused before it opens it.
        Optional<SqliteExclusiveLock> fileLock = config.database() instanceof DatabaseUrl.Sqlite s
                ? Optional.of(SqliteExclusiveLock.acquire(s.file())) : Optional.empty();
        Database db;
        try {
            db = Database.open(config.database());
        } catch (RuntimeException e) {
            fileLock.ifPresent(SqliteExclusiveLock::close);
            throw e;
        }
        LeaseElection election = null;
        try {
            ClusterSettings settings = new ClusterSettings();
            String stored = db.inTransaction(tx -> settings.putIfAbsent(tx, CLUSTER_CIDR_SETTING,
                    config.clusterCidr().toString()));
            if (!Ipv4Cidr.parse(stored).equals(config.clusterCidr())) {
                throw MvmException.invalid("this database was set up with cluster CIDR " + stored + ", not "
                        + config.clusterCidr() + "; tenant subnets cannot move (drop --cluster-cidr or use " + stored + ")");
            }
            io.mvm.coordinator.tls.ControlChannel channel = io.mvm.coordinator.tls.ControlChannel.open(config.tls(),
                    config.dataDir(), config.clock());
            SecureRandom random = new SecureRandom();
            election = new LeaseElection(db, coordinatorId(random), config.clock(), config.leaderLease(),
                    fileLock.isPresent());
            TokenStore tokenStore = new TokenStore();
            Path tokenFile = CoordinatorConfig.adminTokenFile(config.dataDir());
            Optional<Path> created = new AdminTokenBootstrap(random, config.clock())
                    .ensureAdminToken(db, tokenStore, tokenFile);

            TenantStore tenantStore = new TenantStore();
            PoolStore poolStore = new PoolStore();
            InstanceStore instanceStore = new InstanceStore();
            NodeStore nodeStore = new NodeStore();
            AuditTrail audit = new AuditTrail(db, new AuditStore(), config.clock());
            GenerationSignal signal = new GenerationSignal();
            // Watching heartbeats starts now: a heartbeat stored before this start says nothing
            // about the node while no coordinator listened.
            FleetLiveness liveness = new FleetLiveness(LivenessPolicy.defaults(config.nodeTimeout()), config.clock());
            // ... and with several coordinators, from the start of leadership: a follower did not judge
            // silence, and the previous leader's view died with it.
            election.onElected(liveness::restartObservation);
            Scheduler scheduler = new Scheduler(db, settings, nodeStore, tenantStore, poolStore, instanceStore, signal,
                    config.clock(), liveness, election);
            PoolMaterializer materializer = new PoolMaterializer(instanceStore, poolStore, audit, config.clock(),
                    instanceIds(random));
            TenantService tenants = new TenantService(db, tenantStore, poolStore, materializer,
                    new SubnetAllocator(config.clusterCidr()), audit, config.clock(), scheduler);
            PoolService pools = new PoolService(db, tenantStore, poolStore, materializer, audit, config.clock(),
                    scheduler);
            InstanceService instances = new InstanceService(db, tenantStore, poolStore, instanceStore, audit,
                    config.clock(), scheduler);
            NodeService nodes = new NodeService(db, nodeStore, instanceStore, poolStore, scheduler, signal,
                    config.clock(), liveness);
            TokenAuthenticator authenticator = new TokenAuthenticator(db, tokenStore, System::nanoTime);
            ApiTokens nodeTokens = new ApiTokens(db, tokenStore, tenantStore, audit, random, config.clock(),
                    authenticator::forget);
            VmJobStore jobStore = new VmJobStore();
            InstanceRelay relay = new InstanceRelay(db, instanceStore, nodeStore, channel);
            WarmPools warmPools = new WarmPools(db, jobStore, tenantStore, poolStore, instanceStore, nodeStore, tenants,
                    pools, materializer, audit, config.warmBudget(), config.clock(), election);
            VmJobService vmJobs = new VmJobService(db, jobStore, tenantStore, poolStore, instanceStore, tenants,
                    pools, scheduler, config.clock(), jobIds(random), warmPools, relay, election);
            TemplateService templates = new TemplateService(db, new TemplateRegistryStore(), poolStore,
                    new ArtifactStore(config.dataDir().resolve("coordinator").resolve("artifacts")), audit,
                    config.clock(), scheduler);
            RolloutService rollouts = new RolloutService(db, tenantStore, poolStore, instanceStore,
                    new TemplateRegistryStore(), audit, config.clock(), scheduler, instanceIds(random),
                    RolloutService.DEFAULT_HEALTH_TIMEOUT, election);
            ApiServer api = new ApiServer(authenticator, tenants, pools, instances,
                    nodes, nodeTokens, relay, vmJobs, warmPools, templates, rollouts, config.heartbeatInterval(),
                    audit,
                    new ApiServer.Gauges(() -> db.read(tenantStore::count), () -> db.read(poolStore::count),
                            () -> db.read(instanceStore::count),
                            () -> db.read(tx -> nodeStore.countByStatus(tx, Node.READY)),
                            () -> db.read(tx -> nodeStore.countByStatus(tx, Node.LOST)),
                            () -> db.read(instanceStore::countUnplaced)),
                    config.bodyLimitBytes(), config.httpLimits(),
                    new ClusterStatus(db, config.clock(), config.leaderLease(), election.id()), channel);
            int port;
            try {
                port = api.start(config.host(), config.port(), channel.serverContext());
            } catch (RuntimeException e) {
                throw MvmException.unavailable("cannot listen on " + config.host() + ":" + config.port() + ": "
                        + rootMessage(e), e);
            }
            log.info("coordinator listening on {}://{}:{} (database {}, cluster CA {})", channel.insecure() ? "http" : "https",
                    config.host(), port, config.database().display(), channel.caFingerprint());
            created.ifPresent(f -> log.info("admin token written to {}", f));
            CoordinatorConfig.AuditRetention retention = config.auditRetention();
            Housekeeping housekeeping = new Housekeeping(nodes, scheduler, List.of(channel::renewIfDue, vmJobs::reapDeletedJobPools,
                    warmPools::syncQuietly, vmJobs::finishExitedJobsInBackground, rollouts::stepAll,
                    () -> audit.prune(retention.maxAge(), retention.maxRows())), election);
            election.start(config.host() + ":" + port);
            housekeeping.start(config.housekeepingInterval());
            return new Coordinator(db, api, port, tokenFile, created, nodeTokens, housekeeping, signal, vmJobs,
                    election, fileLock, channel, authenticator);
        } catch (RuntimeException e) {
            if (election != null) {
                election.close();
            }
            db.close();
            fileLock.ifPresent(SqliteExclusiveLock::close);
            throw e;
        }
    }

    /** Coordinator ids: "c-" and 8 random hex digits, new at every start. */
    static String coordinatorId(SecureRandom random) {
        byte[] b = new byte[4];
        random.nextBytes(b);
        return "c-" + HexFormat.of().formatHex(b);
    }

    /** The leader lease as this coordinator sees it (tests, simulations). */
    public LeaseElection election() {
        return election;
    }

    /** Job ids when a submission names none: "job-" and 10 random hex digits. */
    static Supplier<String> jobIds(SecureRandom random) {
        return () -> {
            byte[] b = new byte[5];
            random.nextBytes(b);
            return "job-" + HexFormat.of().formatHex(b);
        };
    }

    /** Instance ids: "i-" and 12 random hex digits (48 bits; collisions are retried by the store). */
    static Supplier<InstanceId> instanceIds(SecureRandom random) {
        return () -> {
            byte[] b = new byte[6];
            random.nextBytes(b);
            return InstanceId.of("i-" + HexFormat.of().formatHex(b));
        };
    }

    public int port() {
        return port;
    }

    public Path adminTokenFile() {
        return adminTokenFile;
    }

    /** The token file this start created, if it created one (first start). */
    public Optional<Path> createdTokenFile() {
        return createdTokenFile;
    }

    /**
     * Mints a token for one node (shown only here; stored hashed). For the fleet-of-one, which
     * starts its own agent, and for {@code POST /v1/node-tokens}.
     */
    public String issueNodeToken(NodeId node) {
        return nodeTokens.issueNode(Caller.SYSTEM, node).token();
    }

    /** The control channel: the cluster CA, this coordinator's certificate, relay tokens. */
    public io.mvm.coordinator.tls.ControlChannel controlChannel() {
        return channel;
    }

    /** {@code https://HOST:PORT} or, with {@code --insecure}, {@code http://...}: what agents and the CLI dial. */
    public String scheme() {
        return channel.insecure() ? "http" : "https";
    }

    /** Whether {@code token} is a valid, unrevoked node token of {@code node}. */
    public boolean acceptsNodeToken(NodeId node, String token) {
        try {
            return authenticator.authenticate("Bearer " + token).node().map(node::equals).orElse(false);
        } catch (MvmException e) {
            return false;
        }
    }

    /** One housekeeping round now (lost-node detection and a scheduling pass), for tests and tools. */
    public void runHousekeeping() {
        // The lease first: a test's clock may have jumped past it (a renewal continues the same term).
        election.tick();
        housekeeping.runOnce();
    }

    /**
     * Applies a desired-VMs file now and again whenever it changes (checked every {@code interval});
     * an invalid file is logged with its problems and changes nothing. Stopped with the coordinator.
     */
    public DesiredVmsWatcher watchDesiredVms(Path file, Duration interval) {
        DesiredVmsWatcher watcher = new DesiredVmsWatcher(file, vmJobs);
        watchers.add(watcher);
        return watcher.start(interval);
    }

    /** For the OpenAPI conformance test. */
    public ApiServer api() {
        return api;
    }

    public void stop() {
        try {
            for (AutoCloseable w : watchers) {
                try {
                    w.close();
                } catch (Exception e) {
                    log.warn("closing {} failed: {}", w, e.toString());
                }
            }
            housekeeping.close();
            // Before the API stops: a follower takes over at its next tick instead of after a lease.
            election.close();
            signal.close();
            api.stop();
        } finally {
            db.close();
            fileLock.ifPresent(SqliteExclusiveLock::close);
        }
    }

    @Override
    public void close() {
        stop();
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
