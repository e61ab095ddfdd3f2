package io.mvm.agent.proxy;

import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.Target;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.InstanceId;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's L4 proxy: one {@link RouteListener} per exposed port of every instance the
 * coordinator wants running here (idled ones included — that is what makes them wake on a
 * connection). {@link #sync} makes the listeners match the desired state: routes follow their
 * instances and are closed with them. A route whose host port cannot be bound is reported with the
 * error and tried again at the next sync.
 */
public final class RouteProxy implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RouteProxy.class);

    private record Key(InstanceId instance, int guest) {}

    private record Entry(PortMapping port, InetSocketAddress target, RouteListener listener, Optional<String> error) {}

    private final ProxySettings settings;
    private final Waker waker;
    private final TrafficMeter meter;
    private final InstantSource clock;
    private final Map<Key, Entry> routes = new HashMap<>();

    public RouteProxy(ProxySettings settings, Waker waker, TrafficMeter meter, InstantSource clock) {
        this.settings = settings;
        this.waker = waker;
        this.meter = meter;
        this.clock = clock;
    }

    public TrafficMeter meter() {
        return meter;
    }

    /** Opens the routes of instances wanted running and closes every other one. */
    public synchronized void sync(List<DesiredInstance> desired) {
        var wanted = new HashMap<Key, Map.Entry<PortMapping, InetSocketAddress>>();
        for (var d : desired) {
            if (d.target() != Target.RUNNING) {
                continue;
            }
            for (var p : d.exposure().ports()) {
                wanted.put(new Key(d.id(), p.guest()),
                        Map.entry(p, new InetSocketAddress(d.spec().network().ip(), p.guest())));
            }
        }
        for (var it = routes.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            var w = wanted.get(e.getKey());
            var same = w != null && w.getKey().equals(e.getValue().port()) && w.getValue().equals(e.getValue().target())
                    && e.getValue().listener() != null;
            if (!same) {
                if (e.getValue().listener() != null) {
                    e.getValue().listener().close();
                    log.info("route {} port {} closed", e.getKey().instance(), e.getKey().guest());
                }
                it.remove();
            }
        }
        // Counters of instances that left the node go with them.
        var present = new java.util.HashSet<InstanceId>();
        desired.forEach(d -> present.add(d.id()));
        meter.retainOnly(present);
        for (var w : wanted.entrySet()) {
            if (routes.containsKey(w.getKey())) {
                continue;
            }
            var port = w.getValue().getKey();
            var target = w.getValue().getValue();
            try {
                var l = new RouteListener(w.getKey().instance(), port, target, settings, waker, meter, clock);
                routes.put(w.getKey(), new Entry(port, target, l, Optional.empty()));
                log.info("route {} port {} → {} listening on {}:{}", w.getKey().instance(), port.guest(), target,
                        settings.bindAddress().getHostAddress(), l.boundPort());
            } catch (IOException | RuntimeException e) {
                var error = "cannot listen on host port " + port.host() + ": " + e.getMessage();
                log.warn("route {} port {}: {}", w.getKey().instance(), port.guest(), error);
                routes.put(w.getKey(), new Entry(port, target, null, Optional.of(error)));
            }
        }
    }

    /** The routes of one instance as served now (empty when it has none). */
    public synchronized List<Route> routes(InstanceId id) {
        var out = new ArrayList<Route>();
        for (var e : routes.entrySet()) {
            if (e.getKey().instance().equals(id)) {
                out.add(describe(e.getKey(), e.getValue()));
            }
        }
        out.sort(java.util.Comparator.comparingInt(r -> r.port().guest()));
        return out;
    }

    public synchronized List<Route> routes() {
        var out = new ArrayList<Route>();
        routes.forEach((k, v) -> out.add(describe(k, v)));
        out.sort(java.util.Comparator.comparing((Route r) -> r.instance()).thenComparingInt(r -> r.port().guest()));
        return out;
    }

    private static Route describe(Key k, Entry e) {
        return e.listener() != null ? e.listener().describe()
                : new Route(k.instance(), e.port(), e.target().getHostString() + ":" + e.target().getPort(),
                        OptionalInt.empty(), 0, 0, e.error());
    }

    @Override
    public synchronized void close() {
        routes.values().forEach(e -> {
            if (e.listener() != null) {
                e.listener().close();
            }
        });
        routes.clear();
    }
}
