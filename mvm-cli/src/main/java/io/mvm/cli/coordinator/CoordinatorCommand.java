package io.mvm.cli.coordinator;

import io.mvm.cli.DataDirOption;
import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.core.network.Ipv4Cidr;
import io.mvm.model.MvmException;
import io.mvm.store.db.DatabaseUrl;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm coordinator start}: runs the coordinator API in the foreground until interrupted. */
@Command(name = "coordinator", description = "Run the coordinator (tenants, pools, instances; HTTP API).",
        mixinStandardHelpOptions = true, subcommands = {CoordinatorCommand.Start.class, CoordinatorCommand.Status.class})
public final class CoordinatorCommand {

    @Command(name = "start", description = "Start the coordinator in the foreground (Ctrl-C or SIGTERM stops it).")
    static final class Start implements Runnable {
        @Spec CommandSpec spec;
        @Mixin DataDirOption dataDir;

        @Option(names = "--db", paramLabel = "DB",
                description = "SQLite file path or postgresql://user@host:port/db (default: $MVM_DB, else "
                        + "<data-dir>/coordinator/mvm.db). Give the password with --db-password-file or $MVM_DB_PASSWORD, "
                        + "not in the URL: a command line is readable by every user of the host.")
        String db;

        @Option(names = "--db-password-file", paramLabel = "FILE",
                description = "Read the PostgreSQL password from FILE (default: $MVM_DB_PASSWORD).")
        Path dbPasswordFile;

        @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:7777",
                description = "Address to serve the API on (default: ${DEFAULT-VALUE}).")
        String listen;

        @Option(names = "--cluster-cidr", paramLabel = "CIDR", defaultValue = "10.240.0.0/12",
                description = "Network carved into tenant /24s; fixed at the database's first start (default: ${DEFAULT-VALUE}).")
        String clusterCidr;

        @Option(names = "--node-timeout-secs", paramLabel = "SECS", defaultValue = "30",
                description = "Mark a node lost after this long without a heartbeat (default: ${DEFAULT-VALUE}).")
        long nodeTimeoutSecs;

        @Option(names = "--leader-lease-secs", paramLabel = "SECS", defaultValue = "5",
                description = "With several coordinators on PostgreSQL: a follower takes over the singleton loops after"
                        + " seeing the leader's lease unrenewed this long (default: ${DEFAULT-VALUE}; 1-60).")
        long leaderLeaseSecs;

        @Option(names = "--insecure",
                description = "Serve plain HTTP instead of HTTPS (logs a warning): tokens and workloads cross the network"
                        + " in the clear and nodes are not authenticated by certificate. For loopback tests only.")
        boolean insecure;

        @Option(names = "--ca-cert", paramLabel = "FILE",
                description = "The cluster CA's certificate (PEM); with --ca-key. Default: the CA created on first start"
                        + " under <data-dir>/coordinator/tls/ (key 0600). Coordinators of one cluster share one CA.")
        Path caCert;

        @Option(names = "--ca-key", paramLabel = "FILE",
                description = "The cluster CA's private key (PEM, must be mode 0600); with --ca-cert.")
        Path caKey;

        @Option(names = "--tls-san", paramLabel = "NAME", split = ",",
                description = "Extra DNS names or IP addresses for the coordinator's certificate (besides localhost,"
                        + " 127.0.0.1, ::1 and the listen address); repeatable or comma-separated.")
        java.util.List<String> tlsSans = new java.util.ArrayList<>();

        @Option(names = "--cert-validity-hours", paramLabel = "HOURS", defaultValue = "720",
                description = "Lifetime of the coordinator's and the nodes' certificates; renewed after two thirds of it"
                        + " (default: ${DEFAULT-VALUE}).")
        long certValidityHours;

        /** TLS unless --insecure; the listen address joins the certificate's names. */
        io.mvm.coordinator.tls.ControlTls tls(String listenHost) {
            if (certValidityHours < 1 || certValidityHours > 24 * 3650) {
                throw MvmException.invalid("--cert-validity-hours must be 1-87600, got " + certValidityHours);
            }
            var sans = new java.util.LinkedHashSet<>(io.mvm.coordinator.tls.ControlTls.DEFAULT_SANS);
            if (!listenHost.equals("0.0.0.0") && !listenHost.equals("::")) {
                sans.add(listenHost);
            }
            tlsSans.stream().map(String::strip).filter(x -> !x.isEmpty()).forEach(sans::add);
            var tls = (insecure ? io.mvm.coordinator.tls.ControlTls.INSECURE : io.mvm.coordinator.tls.ControlTls.SECURE)
                    .withSans(java.util.List.copyOf(sans))
                    .withValidity(java.time.Duration.ofHours(certValidityHours), java.time.Duration.ofMinutes(1));
            if ((caCert == null) != (caKey == null)) {
                throw MvmException.invalid("--ca-cert and --ca-key go together");
            }
            return caCert == null ? tls : tls.withCa(caCert.toAbsolutePath(), caKey.toAbsolutePath());
        }

        @Option(names = "--vms", paramLabel = "FILE",
                description = "A desired-VMs file (TOML): applied at start and whenever it changes; see 'mvm vms validate'.")
        Path vmsFile;

        /** {@code --db}, else $MVM_DB, else the data dir's SQLite file; a password from a file or the environment. */
        DatabaseUrl database(Path dir, Map<String, String> environment) {
            String location = db != null ? db : environment.get("MVM_DB");
            DatabaseUrl url = location == null || location.isBlank()
                    ? new DatabaseUrl.Sqlite(CoordinatorConfig.defaultDatabase(dir)) : DatabaseUrl.parse(location);
            var password = io.mvm.cli.SecretInputs.fileOrEnv(dbPasswordFile, "MVM_DB_PASSWORD", environment);
            if (password.isPresent()) {
                if (!(url instanceof DatabaseUrl.Postgres pg)) {
                    throw MvmException.invalid("a database password is given, but the database is not PostgreSQL ("
                            + url.display() + ")");
                }
                return pg.withPassword(password.get());
            }
            return url;
        }

        @Override
        public void run() {
            Path dir = dataDir.resolve();
            var listenAt = CoordinatorConfig.parseListen(listen);
            CoordinatorConfig config = CoordinatorConfig.defaults(dir)
                    .withDatabase(database(dir, System.getenv()))
                    .withListen(listenAt.host(), listenAt.port())
                    .withClusterCidr(Ipv4Cidr.parse(clusterCidr))
                    .withNodeTimeouts(nodeTimeout(nodeTimeoutSecs), heartbeatFor(nodeTimeoutSecs))
                    .withLeaderLease(leaderLease(leaderLeaseSecs))
                    .withTls(tls(listenAt.host()));
            Coordinator coordinator = Coordinator.start(config);
            if (vmsFile != null) {
                var result = coordinator.watchDesiredVms(vmsFile, java.time.Duration.ofSeconds(1)).last();
                spec.commandLine().getOut().println("desired-VMs file " + vmsFile + (result.applied()
                        ? ": applied, watched for changes" : ": REJECTED (" + result.problems().size()
                        + " problem(s), see the log); watched for changes"));
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                coordinator.stop();
                stopped.countDown();
            }, "coordinator-stop"));
            PrintWriter out = spec.commandLine().getOut();
            out.println("coordinator listening on " + coordinator.scheme() + "://" + listenAt.host() + ":" + coordinator.port()
                    + " (database " + config.database().display() + ")");
            out.println(insecure ? "WARNING: --insecure: plain HTTP, nodes are not authenticated by certificate"
                    : "cluster CA " + coordinator.controlChannel().caFingerprint() + " ("
                    + config.tls().caCert().orElse(io.mvm.coordinator.tls.ControlChannel.caDir(dir).resolve("ca.crt")) + ")");
            out.println(coordinator.createdTokenFile().isPresent()
                    ? "admin token written to " + coordinator.adminTokenFile() + " (mode 0600)"
                    : "admin token: " + coordinator.adminTokenFile());
            out.println("nodes are marked lost after " + nodeTimeoutSecs + "s without a heartbeat");
            out.flush();
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Command(name = "status", description = "The coordinators sharing the database: which one leads, since when,"
            + " and the leader lease epoch.")
    static final class Status implements Runnable {
        @Spec CommandSpec spec;
        @Mixin io.mvm.cli.client.ClientOptions client;

        @Override
        public void run() {
            com.fasterxml.jackson.databind.JsonNode status = client.client().get("v1/coordinators");
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                io.mvm.cli.client.ClientOptions.printJson(out, status);
                return;
            }
            var lease = status.get("lease");
            out.println(lease.get("leader").isNull()
                    ? "leader: none (lease epoch " + lease.get("epoch").asLong() + "; a coordinator takes it at its next tick)"
                    : "leader: " + lease.get("leader").asText() + " since " + lease.get("leader_since").asText()
                    + " (lease epoch " + lease.get("epoch").asLong() + ", renewed " + lease.get("renewed_at").asText()
                    + ", lease " + lease.get("lease_millis").asLong() / 1000.0 + " s)");
            io.mvm.cli.client.Table table = new io.mvm.cli.client.Table("COORDINATOR", "ADDRESS", "ROLE", "STARTED",
                    "LAST SEEN");
            for (var c : status.get("items")) {
                table.row(c.get("id").asText() + (c.get("id").asText().equals(status.get("answered_by").asText()) ? " *" : ""),
                        c.get("address").asText(), c.get("leader").asBoolean() ? "leader"
                                : c.get("stale").asBoolean() ? "stale" : "follower",
                        c.get("started_at").asText(), c.get("last_seen").asText());
            }
            table.print(out);
            out.println("* answered this request");
            out.flush();
        }
    }

    static java.time.Duration leaderLease(long secs) {
        if (secs < 1 || secs > 60) {
            throw io.mvm.model.MvmException.invalid("--leader-lease-secs must be 1-60, got " + secs);
        }
        return java.time.Duration.ofSeconds(secs);
    }

    static java.time.Duration nodeTimeout(long secs) {
        if (secs < 3 || secs > 86_400) {
            throw io.mvm.model.MvmException.invalid("--node-timeout-secs must be 3-86400, got " + secs);
        }
        return java.time.Duration.ofSeconds(secs);
    }

    /** Agents heartbeat often enough that two missed beats still leave the node ready. */
    static java.time.Duration heartbeatFor(long timeoutSecs) {
        return java.time.Duration.ofSeconds(Math.max(1, Math.min(5, timeoutSecs / 3)));
    }
}
