package io.mvm.store.route;

import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Scale to zero in the database: a pool's exposure (ports and idle policy, intent) in
 * {@code pool_exposure}, and the routes nodes report serving (observation) in
 * {@code instance_routes}. Both go with their pool or instance (foreign keys, on delete cascade).
 */
public final class RouteStore {

    /** A route as reported, with where its instance is. {@code hostPort} empty: not bound ({@code error} says why). */
    public record RouteRow(InstanceId instance, TenantId tenant, PoolName pool, Optional<String> node, String ip,
                           String desiredState, String state, int guestPort, String protocol, OptionalInt hostPort,
                           Optional<String> error) {}

    /** Ports are kept as {@code guest:host/protocol} items joined by commas. */
    static String encode(List<PortMapping> ports) {
        var sb = new StringBuilder();
        for (var p : ports) {
            if (!sb.isEmpty()) {
                sb.append(',');
            }
            sb.append(p.guest()).append(':').append(p.host()).append('/').append(p.protocol());
        }
        return sb.toString();
    }

    static List<PortMapping> decode(String text) {
        var out = new ArrayList<PortMapping>();
        if (text == null || text.isBlank()) {
            return out;
        }
        for (var item : text.split(",")) {
            int colon = item.indexOf(':');
            int slash = item.indexOf('/');
            out.add(new PortMapping(Integer.parseInt(item.substring(0, colon)),
                    Integer.parseInt(item.substring(colon + 1, slash)), item.substring(slash + 1)));
        }
        return out;
    }

    /** Sets (or, for {@link Exposure#NONE}, removes) a pool's exposure. */
    public void putExposure(Tx tx, TenantId tenant, PoolName pool, Exposure exposure) throws SQLException {
        tx.update("DELETE FROM pool_exposure WHERE tenant_id = ? AND pool_name = ?", tenant.value(), pool.value());
        if (exposure.ports().isEmpty() && exposure.idle().isEmpty()) {
            return;
        }
        var idle = exposure.idle();
        tx.update("INSERT INTO pool_exposure (tenant_id, pool_name, ports, idle_warm_after_ms, idle_sleep_after_ms,"
                        + " idle_min_runtime_ms, idle_cpu_threshold) VALUES (?, ?, ?, ?, ?, ?, ?)",
                tenant.value(), pool.value(), encode(exposure.ports()),
                idle.map(i -> i.warmAfter().toMillis()).orElse(null),
                idle.map(i -> i.sleepAfter().toMillis()).orElse(null),
                idle.map(i -> i.minRuntime().toMillis()).orElse(null),
                idle.map(IdlePolicy::cpuThreshold).orElse(null));
    }

    public Exposure exposure(Tx tx, TenantId tenant, PoolName pool) throws SQLException {
        return tx.one("SELECT ports, idle_warm_after_ms, idle_sleep_after_ms, idle_min_runtime_ms, idle_cpu_threshold"
                        + " FROM pool_exposure WHERE tenant_id = ? AND pool_name = ?", RouteStore::exposureOf,
                tenant.value(), pool.value()).orElse(Exposure.NONE);
    }

    /** Every pool's exposure, keyed by tenant and pool; pools without one are absent. */
    public Map<Map.Entry<TenantId, PoolName>, Exposure> exposures(Tx tx) throws SQLException {
        var out = new LinkedHashMap<Map.Entry<TenantId, PoolName>, Exposure>();
        for (var row : tx.query("SELECT tenant_id, pool_name, ports, idle_warm_after_ms, idle_sleep_after_ms,"
                + " idle_min_runtime_ms, idle_cpu_threshold FROM pool_exposure ORDER BY tenant_id, pool_name",
                rs -> Map.entry(Map.entry(TenantId.of(rs.getString(1)), PoolName.of(rs.getString(2))),
                        exposureOf(rs, 3)))) {
            out.put(row.getKey(), row.getValue());
        }
        return out;
    }

    private static Exposure exposureOf(ResultSet rs) throws SQLException {
        return exposureOf(rs, 1);
    }

    private static Exposure exposureOf(ResultSet rs, int first) throws SQLException {
        var ports = decode(rs.getString(first));
        long warm = rs.getLong(first + 1);
        Optional<IdlePolicy> idle = rs.wasNull() ? Optional.empty() : Optional.of(new IdlePolicy(
                Duration.ofMillis(warm), Duration.ofMillis(rs.getLong(first + 2)),
                Duration.ofMillis(rs.getLong(first + 3)), rs.getDouble(first + 4)));
        return new Exposure(ports, idle);
    }

    /** Replaces the routes an instance's node reported serving. */
    public void replaceRoutes(Tx tx, InstanceId instance, List<Reported> routes) throws SQLException {
        tx.update("DELETE FROM instance_routes WHERE instance_id = ?", instance.value());
        for (var r : routes) {
            tx.update("INSERT INTO instance_routes (instance_id, guest_port, protocol, host_port, error)"
                            + " VALUES (?, ?, ?, ?, ?)", instance.value(), r.guestPort(), r.protocol(),
                    r.hostPort().isPresent() ? r.hostPort().getAsInt() : null, r.error().orElse(null));
        }
    }

    /** Replaces them only when they differ from what is stored (reports come every few seconds). */
    public void replaceIfChanged(Tx tx, InstanceId instance, List<Reported> routes) throws SQLException {
        var stored = tx.query("SELECT guest_port, protocol, host_port, error FROM instance_routes WHERE instance_id = ?"
                + " ORDER BY guest_port", rs -> {
                    int host = rs.getInt(3);
                    var hostPort = rs.wasNull() ? OptionalInt.empty() : OptionalInt.of(host);
                    return new Reported(rs.getInt(1), rs.getString(2), hostPort, Optional.ofNullable(rs.getString(4)));
                }, instance.value());
        var sorted = routes.stream().sorted(java.util.Comparator.comparingInt(Reported::guestPort)).toList();
        if (!stored.equals(sorted)) {
            replaceRoutes(tx, instance, sorted);
        }
    }

    /** One route as a node reported it. */
    public record Reported(int guestPort, String protocol, OptionalInt hostPort, Optional<String> error) {}

    /** Every reported route, or a tenant's, in instance and port order. */
    public List<RouteRow> list(Tx tx, Optional<TenantId> tenant) throws SQLException {
        var sql = "SELECT i.id, i.tenant_id, i.pool_name, i.node_id, i.ip, i.desired_state, i.state, r.guest_port,"
                + " r.protocol, r.host_port, r.error FROM instance_routes r JOIN instances i ON i.id = r.instance_id"
                + (tenant.isPresent() ? " WHERE i.tenant_id = ?" : "") + " ORDER BY i.tenant_id, i.id, r.guest_port";
        Object[] args = tenant.isPresent() ? new Object[] {tenant.get().value()} : new Object[0];
        return tx.query(sql, rs -> {
            int host = rs.getInt(10);
            var hostPort = rs.wasNull() ? OptionalInt.empty() : OptionalInt.of(host);
            return new RouteRow(InstanceId.of(rs.getString(1)), TenantId.of(rs.getString(2)),
                    PoolName.of(rs.getString(3)), Optional.ofNullable(rs.getString(4)), rs.getString(5),
                    rs.getString(6), rs.getString(7), rs.getInt(8), rs.getString(9), hostPort,
                    Optional.ofNullable(rs.getString(11)));
        }, args);
    }
}
