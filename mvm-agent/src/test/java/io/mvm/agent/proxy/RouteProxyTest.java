package io.mvm.agent.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy's mechanics over real loopback sockets (the guest side is a local echo server; the
 * real-VM behaviour is ProxyWakeIT's): splicing with half-close, holding while a wake runs with the
 * client's early bytes kept, one shared wake, the held-connection limit and the hold timeout.
 */
class RouteProxyTest {
    private static final InstanceId ID = InstanceId.of("p-1");
    private final List<AutoCloseable> closeMe = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (var c : closeMe) {
            c.close();
        }
    }

    /** An upper-casing echo server on 127.0.0.1; answers until the client half-closes. */
    private ServerSocket echo(int port) throws IOException {
        var server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress("127.0.0.1", port));
        closeMe.add(server);
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    var s = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            var all = s.getInputStream().readAllBytes();
                            s.getOutputStream().write(new String(all, StandardCharsets.UTF_8).toUpperCase()
                                    .getBytes(StandardCharsets.UTF_8));
                        } catch (IOException ignored) {
                            // client went away
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        return server;
    }

    private static final class FakeWaker implements Waker {
        volatile boolean idled;
        final AtomicInteger wakes = new AtomicInteger();
        volatile CompletableFuture<Void> pending;
        final List<String> dropped = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public boolean idled(InstanceId id) {
            return idled;
        }

        @Override
        public synchronized CompletableFuture<Void> wake(InstanceId id, String why) {
            if (pending == null) {
                wakes.incrementAndGet();
                pending = new CompletableFuture<>();
            }
            return pending;
        }

        @Override
        public void heldConnectionClosed(InstanceId id, String why) {
            dropped.add(why);
        }
    }

    private RouteProxy proxy(FakeWaker waker, int guestPort, int maxHeld, Duration hold) throws Exception {
        var settings = new ProxySettings(InetAddress.getLoopbackAddress(), maxHeld, hold, Duration.ofMillis(200));
        var proxy = new RouteProxy(settings, waker, new TrafficMeter(InstantSource.system()), InstantSource.system());
        closeMe.add(proxy);
        var spec = new InstanceSpec(ID, TenantId.of("t"), PoolName.of("p"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("127.0.0.1", 8, "127.0.0.1", Optional.empty(), 1), List.of(), Map.of(), Map.of(),
                Map.of(), "r1");
        proxy.sync(List.of(new DesiredInstance(spec, Target.RUNNING,
                new Exposure(List.of(PortMapping.tcp(guestPort, 0)), Optional.empty()))));
        return proxy;
    }

    private static int freePort() throws IOException {
        try (var s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String roundTrip(int port, String text) throws IOException {
        try (var s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void splicesARunningInstanceAndCountsTraffic() throws Exception {
        int guest = freePort();
        echo(guest);
        var waker = new FakeWaker();
        var proxy = proxy(waker, guest, 4, Duration.ofSeconds(5));
        var route = proxy.routes(ID).getFirst();
        assertThat(route.boundPort()).isPresent();
        assertThat(route.target()).isEqualTo("127.0.0.1:" + guest);
        assertThat(roundTrip(route.boundPort().getAsInt(), "hello")).isEqualTo("HELLO");
        assertThat(waker.wakes).hasValue(0);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.meter().snapshot(ID).open() == 0);
        assertThat(proxy.meter().snapshot(ID).bytes()).isEqualTo(10);
        assertThat(proxy.meter().snapshot(ID).connections()).isEqualTo(1);

        // Routes follow the desired state: gone when the instance is no longer wanted running.
        proxy.sync(List.of());
        assertThat(proxy.routes()).isEmpty();
        var port = route.boundPort().getAsInt();
        // The listening socket is released once its acceptor thread has left accept().
        await().atMost(Duration.ofSeconds(5)).until(() -> !connectable(port));
    }

    @Test
    void holdsDuringOneSharedWakeKeepingEarlyBytes() throws Exception {
        int guest = freePort();
        var waker = new FakeWaker();
        waker.idled = true;
        var proxy = proxy(waker, guest, 64, Duration.ofSeconds(20));
        int port = proxy.routes(ID).getFirst().boundPort().getAsInt();
        var answers = new ArrayList<CompletableFuture<String>>();
        for (int i = 0; i < 20; i++) {
            var text = "early-" + i;
            answers.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return roundTrip(port, text);
                } catch (IOException e) {
                    return "error " + e;
                }
            }, r -> Thread.ofVirtual().start(r)));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.routes(ID).getFirst().held() == 20);
        // The "guest" comes up only now; the wake completes after it.
        echo(guest);
        waker.idled = false;
        waker.pending.complete(null);
        for (int i = 0; i < 20; i++) {
            assertThat(answers.get(i).get()).isEqualTo("EARLY-" + i);
        }
        assertThat(waker.wakes).hasValue(1);
    }

    @Test
    void refusesBeyondTheLimitAndClosesOnAFailedWakeOrTimeout() throws Exception {
        int guest = freePort();
        var waker = new FakeWaker();
        waker.idled = true;
        var proxy = proxy(waker, guest, 2, Duration.ofSeconds(2));
        int port = proxy.routes(ID).getFirst().boundPort().getAsInt();
        var a = new Socket("127.0.0.1", port);
        var b = new Socket("127.0.0.1", port);
        closeMe.add(a);
        closeMe.add(b);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.routes(ID).getFirst().held() == 2);
        try (var c = new Socket("127.0.0.1", port)) {
            c.setSoTimeout(5_000);
            assertThat(readEnd(c.getInputStream())).isEqualTo("reset");
        }
        // The wake fails: held connections are closed (EOF), with a line for each.
        waker.pending.completeExceptionally(new IllegalStateException("no snapshot"));
        a.setSoTimeout(5_000);
        b.setSoTimeout(5_000);
        assertThat(readEnd(a.getInputStream())).isEqualTo("eof");
        assertThat(readEnd(b.getInputStream())).isEqualTo("eof");
        await().atMost(Duration.ofSeconds(5)).until(() -> waker.dropped.size() == 2);
        assertThat(waker.dropped).allMatch(s -> s.contains("the wake failed: no snapshot"));

        // A wake that never completes: closed after the hold timeout.
        waker.pending = null;
        try (var d = new Socket("127.0.0.1", port)) {
            d.setSoTimeout(10_000);
            assertThat(readEnd(d.getInputStream())).isEqualTo("eof");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> waker.dropped.size() == 3);
        assertThat(waker.dropped.get(2)).contains("hold timeout of 2000 ms");
    }

    private static String readEnd(InputStream in) {
        try {
            return in.read() < 0 ? "eof" : "data";
        } catch (java.net.SocketException e) {
            return "reset";
        } catch (IOException e) {
            return "error " + e;
        }
    }

    private static boolean connectable(int port) {
        try (var s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
