package io.mvm.coordinator;

import io.mvm.core.network.Ipv4Cidr;
import io.mvm.core.network.SubnetAllocator;
import io.mvm.model.MvmException;
import io.mvm.store.db.DatabaseUrl;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Objects;

/**
 * Everything a coordinator needs, checked at construction so bad settings fail before anything
 * starts.
 *
 * @param dataDir where {@code coordinator/admin.token} (and the default SQLite file) live
 * @param nodeTimeout a node silent for longer is marked lost
 * @param heartbeatInterval what registration tells agents to heartbeat at
 * @param housekeepingInterval how often silent nodes are looked for and a scheduling pass runs
 * @param httpLimits rate limits and in-flight budgets of the API
 * @param warmBudget the cluster's warm budget: vCPUs and memory all warm VMs together may hold
 * @param auditRetention how long and how many audit entries are kept
 * @param leaderLease how long the leader lease lasts without a renewal: a follower takes over after
 *                    seeing it unrenewed this long (renewals happen every fifth of it)
 * @param tls how the control channel is secured
 */
public record CoordinatorConfig(DatabaseUrl database, String host, int port, Path dataDir, Ipv4Cidr clusterCidr,
                                InstantSource clock, int bodyLimitBytes, Duration nodeTimeout,
                                Duration heartbeatInterval, Duration housekeepingInterval, HttpLimits httpLimits,
                                AuditRetention auditRetention, io.mvm.core.vms.WarmPoolPlan.Budget warmBudget,
                                Duration leaderLease, io.mvm.coordinator.tls.ControlTls tls) {
    public static final int DEFAULT_PORT = 7777;
    public static final Duration DEFAULT_NODE_TIMEOUT = Duration.ofSeconds(30);
    /** Leader lease: a killed leader's successor takes over 5-7 s later (lease plus up to two renewal periods). */
    public static final Duration DEFAULT_LEADER_LEASE = Duration.ofSeconds(5);
    /** What all warm VMs of the cluster may hold together (they count against no tenant's quota). */
    public static final io.mvm.core.vms.WarmPoolPlan.Budget DEFAULT_WARM_BUDGET =
            new io.mvm.core.vms.WarmPoolPlan.Budget(8, 4096);

    public CoordinatorConfig {
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(clock, "clock");
        if (host == null || host.isBlank()) {
            throw MvmException.invalid("listen host is empty");
        }
        if (port < 0 || port > 65535) {
            throw MvmException.invalid("listen port must be 0-65535, got " + port);
        }
        if (bodyLimitBytes < 1024) {
            throw MvmException.invalid("body limit must be at least 1024 bytes, got " + bodyLimitBytes);
        }
        new SubnetAllocator(clusterCidr);
        Objects.requireNonNull(nodeTimeout, "nodeTimeout");
        Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
        Objects.requireNonNull(housekeepingInterval, "housekeepingInterval");
        if (heartbeatInterval.toSeconds() < 1) {
            throw MvmException.invalid("heartbeat interval must be at least 1 second, got " + heartbeatInterval);
        }
        if (nodeTimeout.compareTo(heartbeatInterval.multipliedBy(2)) < 0) {
            throw MvmException.invalid("node timeout (" + nodeTimeout.toSeconds() + "s) must be at least twice the"
                    + " heartbeat interval (" + heartbeatInterval.toSeconds() + "s), or healthy nodes would flap to lost");
        }
        java.util.Objects.requireNonNull(httpLimits, "httpLimits");
        java.util.Objects.requireNonNull(auditRetention, "auditRetention");
        java.util.Objects.requireNonNull(warmBudget, "warmBudget");
        Objects.requireNonNull(leaderLease, "leaderLease");
        if (leaderLease.toMillis() < 500) {
            throw MvmException.invalid("leader lease must be at least 500 ms, got " + leaderLease);
        }
        java.util.Objects.requireNonNull(tls, "tls");
        if (housekeepingInterval.toMillis() < 10) {
            throw MvmException.invalid("housekeeping interval must be at least 10 ms, got " + housekeepingInterval);
        }
    }

    /** Defaults: the embedded SQLite database under the data dir, 127.0.0.1:7777, 10.240.0.0/12. */
    public static CoordinatorConfig defaults(Path dataDir) {
        return new CoordinatorConfig(new DatabaseUrl.Sqlite(defaultDatabase(dataDir)), "127.0.0.1", DEFAULT_PORT,
                dataDir, SubnetAllocator.DEFAULT_CLUSTER_CIDR, InstantSource.system(), 64 * 1024, DEFAULT_NODE_TIMEOUT,
                Duration.ofSeconds(5), Duration.ofSeconds(1), HttpLimits.DEFAULT,
                AuditRetention.DEFAULT, DEFAULT_WARM_BUDGET, DEFAULT_LEADER_LEASE,
                io.mvm.coordinator.tls.ControlTls.INSECURE);
    }

    public static Path defaultDatabase(Path dataDir) {
        return dataDir.resolve("coordinator").resolve("mvm.db");
    }

    public static Path adminTokenFile(Path dataDir) {
        return dataDir.resolve("coordinator").resolve("admin.token");
    }

    public CoordinatorConfig withDatabase(DatabaseUrl db) {
        return new CoordinatorConfig(db, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout, heartbeatInterval,
                housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withListen(String h, int p) {
        return new CoordinatorConfig(database, h, p, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout, heartbeatInterval,
                housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withClusterCidr(Ipv4Cidr cidr) {
        return new CoordinatorConfig(database, host, port, dataDir, cidr, clock, bodyLimitBytes, nodeTimeout, heartbeatInterval,
                housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withClock(InstantSource c) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, c, bodyLimitBytes, nodeTimeout, heartbeatInterval,
                housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    /** Node liveness: lost after {@code timeout} of silence, heartbeats asked for every {@code heartbeat}. */
    public CoordinatorConfig withNodeTimeouts(Duration timeout, Duration heartbeat) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, timeout,
                heartbeat, housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withHousekeepingInterval(Duration interval) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, interval, httpLimits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withHttpLimits(HttpLimits limits) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, housekeepingInterval, limits, auditRetention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withAuditRetention(AuditRetention retention) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, housekeepingInterval, httpLimits, retention, warmBudget, leaderLease, tls);
    }

    public CoordinatorConfig withWarmBudget(io.mvm.core.vms.WarmPoolPlan.Budget budget) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, housekeepingInterval, httpLimits, auditRetention, budget, leaderLease, tls);
    }

    public CoordinatorConfig withLeaderLease(Duration lease) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, housekeepingInterval, httpLimits, auditRetention, warmBudget, lease, tls);
    }

    /** How the control channel is secured (defaults: plain HTTP; {@code mvm coordinator start} asks for TLS). */
    public CoordinatorConfig withTls(io.mvm.coordinator.tls.ControlTls t) {
        return new CoordinatorConfig(database, host, port, dataDir, clusterCidr, clock, bodyLimitBytes, nodeTimeout,
                heartbeatInterval, housekeepingInterval, httpLimits, auditRetention, warmBudget, leaderLease, t);
    }

    /** The audit trail keeps entries for {@code maxAge} and at most {@code maxRows} of them (newest kept). */
    public record AuditRetention(Duration maxAge, long maxRows) {
        public static final AuditRetention DEFAULT = new AuditRetention(Duration.ofDays(90), 1_000_000);

        public AuditRetention {
            if (maxAge.isNegative() || maxAge.isZero() || maxRows < 1) {
                throw MvmException.invalid("audit retention must keep a positive age and at least one entry");
            }
        }
    }

    /** Parses {@code host:port} (port 0 picks a free one). */
    public static HostPort parseListen(String text) {
        if (text == null) {
            throw MvmException.invalid("listen address is missing; expected HOST:PORT");
        }
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw MvmException.invalid("invalid listen address '" + text + "': expected HOST:PORT such as 127.0.0.1:7777");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new HostPort(host, port);
        } catch (NumberFormatException e) {
            throw MvmException.invalid("invalid port in listen address '" + text + "': expected 0-65535");
        }
    }

    public record HostPort(String host, int port) {}
}
