package io.mvm.agent.proxy;

import io.mvm.core.scale.PortMapping;
import io.mvm.model.InstanceId;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One route: a listening socket on the host and a virtual thread per connection. A connection to
 * a running instance is connected straight through; one to an idled instance (or one whose port
 * does not answer yet) is <em>held</em>: the client's socket is not read until the guest's port
 * accepted, so whatever the client already sent waits in the kernel's receive buffer and arrives
 * first. Then two virtual threads copy bytes both ways (blocking channels, 64 KiB buffers) and
 * pass a half-close on.
 */
final class RouteListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RouteListener.class);
    private static final Duration RETRY = Duration.ofMillis(20);

    private final InstanceId instance;
    private final PortMapping port;
    private final InetSocketAddress target;
    private final ServerSocketChannel server;
    private final ProxySettings settings;
    private final Waker waker;
    private final TrafficMeter meter;
    private final InstantSource clock;
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    RouteListener(InstanceId instance, PortMapping port, InetSocketAddress target, ProxySettings settings,
                  Waker waker, TrafficMeter meter, InstantSource clock) throws IOException {
        this.instance = instance;
        this.port = port;
        this.target = target;
        this.settings = settings;
        this.waker = waker;
        this.meter = meter;
        this.clock = clock;
        this.server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(new InetSocketAddress(settings.bindAddress(), port.host()), 1024);
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        this.acceptor = Thread.ofVirtual().name("route-" + instance + "-" + port.guest()).start(this::acceptLoop);
    }

    int boundPort() {
        return ((InetSocketAddress) server.socket().getLocalSocketAddress()).getPort();
    }

    InetSocketAddress target() {
        return target;
    }

    Route describe() {
        return new Route(instance, port, target.getHostString() + ":" + target.getPort(),
                java.util.OptionalInt.of(boundPort()), held.get(), open.get(), Optional.empty());
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                var client = server.accept();
                Thread.ofVirtual().name("conn-" + instance + "-" + port.guest()).start(() -> serve(client));
            } catch (IOException e) {
                if (!closed) {
                    log.warn("route {} port {}: accept failed: {}", instance, port.guest(), e.toString());
                    sleep(RETRY);
                }
            }
        }
    }

    private void serve(SocketChannel client) {
        open.incrementAndGet();
        meter.opened(instance);
        SocketChannel upstream = null;
        try {
            client.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (!waker.idled(instance) && settings.forward()) {
                upstream = connectOnce();
            }
            if (upstream == null) {
                upstream = hold(client);
            }
            if (upstream != null) {
                splice(client, upstream);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("route {} port {}: connection ended: {}", instance, port.guest(), e.toString());
        } finally {
            closeQuietly(client);
            closeQuietly(upstream);
            meter.closed(instance);
            open.decrementAndGet();
        }
    }

    /**
     * Waits for the instance to run and its port to accept, within the hold timeout. Null when the
     * connection was refused or given up (already logged and recorded).
     */
    private SocketChannel hold(SocketChannel client) {
        int now = held.incrementAndGet();
        try {
            if (now > settings.maxHeld()) {
                var why = "refused a connection from " + peer(client) + " to port " + port.guest() + ": "
                        + settings.maxHeld() + " connections are already held while " + instance + " wakes";
                log.warn("route {}: {}", instance, why);
                // A reset rather than an orderly close: the client must not take it for an empty answer.
                client.setOption(StandardSocketOptions.SO_LINGER, 0);
                return null;
            }
            var deadline = clock.instant().plus(settings.holdTimeout());
            var wake = waker.wake(instance, "connection from " + peer(client) + " to port " + port.guest());
            try {
                wake.get(remainingMillis(deadline), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                var cause = e.getCause() == null ? e : e.getCause();
                giveUp(client, "the wake failed: " + cause.getMessage());
                return null;
            } catch (TimeoutException e) {
                giveUp(client, "the wake took longer than the hold timeout of " + settings.holdTimeout().toMillis()
                        + " ms");
                return null;
            }
            if (!settings.forward()) {
                giveUp(client, "the instance runs, but this node has no instance networking (--network none):"
                        + " nothing to forward to");
                return null;
            }
            while (remainingMillis(deadline) > 0) {
                var up = connectOnce();
                if (up != null) {
                    return up;
                }
                sleep(RETRY);
            }
            giveUp(client, "port " + port.guest() + " of " + target.getHostString() + " did not accept within the hold"
                    + " timeout of " + settings.holdTimeout().toMillis() + " ms");
            return null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            held.decrementAndGet();
        }
    }

    private void giveUp(SocketChannel client, String why) {
        var line = "closed a held connection from " + peer(client) + " to port " + port.guest() + ": " + why;
        log.warn("route {}: {}", instance, line);
        waker.heldConnectionClosed(instance, line);
        closeOrderly(client);
    }

    /**
     * An orderly end (FIN, the client reads end-of-stream) even though the client's request was
     * never read: unread bytes at close would make the kernel answer with a reset instead.
     */
    private static void closeOrderly(SocketChannel client) {
        try {
            client.shutdownOutput();
            client.configureBlocking(false);
            var sink = ByteBuffer.allocate(16 * 1024);
            for (int i = 0; i < 64; i++) {
                sink.clear();
                if (client.read(sink) <= 0) {
                    break;
                }
            }
        } catch (IOException ignored) {
            // closed below either way
        }
        closeQuietly(client);
    }

    /** One attempt; null when the guest refused, did not answer in time, or is unreachable. */
    private SocketChannel connectOnce() {
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open();
            ch.socket().connect(target, (int) settings.connectTimeout().toMillis());
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            return ch;
        } catch (IOException e) {
            closeQuietly(ch);
            return null;
        }
    }

    private void splice(SocketChannel client, SocketChannel upstream) throws IOException {
        var back = Thread.ofVirtual().name("splice-" + instance).start(() -> copy(upstream, client));
        copy(client, upstream);
        try {
            back.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void copy(SocketChannel from, SocketChannel to) {
        var buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (true) {
                buf.clear();
                int n = from.read(buf);
                if (n < 0) {
                    to.shutdownOutput();
                    return;
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    to.write(buf);
                }
                meter.carried(instance, n);
            }
        } catch (IOException e) {
            // One side went away: end the other direction too.
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private long remainingMillis(Instant deadline) {
        return Math.max(0, Duration.between(clock.instant(), deadline).toMillis());
    }

    private static String peer(SocketChannel ch) {
        try {
            var a = (InetSocketAddress) ch.getRemoteAddress();
            return a == null ? "?" : a.getHostString() + ":" + a.getPort();
        } catch (IOException e) {
            return "?";
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** Stops accepting; connections already spliced end with their peers. */
    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        acceptor.interrupt();
    }
}
