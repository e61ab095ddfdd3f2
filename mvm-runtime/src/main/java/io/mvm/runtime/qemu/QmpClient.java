package io.mvm.runtime.qemu;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A client for QEMU's machine protocol over its UNIX socket: reads the greeting, leaves
 * negotiation mode with {@code qmp_capabilities}, sends commands tagged with ids and matches
 * replies by id, and hands asynchronous events to listeners. One virtual thread reads; any thread
 * may send. QEMU allows one client per monitor socket, so hold a client briefly and close it.
 */
public final class QmpClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SocketChannel channel;
    private final JsonNode greeting;
    private final MappingIterator<JsonNode> replies;
    private final Map<String, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final List<Consumer<QmpEvent>> listeners = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong();
    private final Object writeLock = new Object();
    private final Thread reader;
    private volatile boolean closed;

    private QmpClient(SocketChannel channel, JsonNode greeting, MappingIterator<JsonNode> replies) {
        this.channel = channel;
        this.greeting = greeting;
        this.replies = replies;
        this.reader = Thread.ofVirtual().name("qmp-reader").start(this::readLoop);
    }

    /**
     * Connects, reads the greeting and negotiates capabilities, retrying the connection until the
     * socket accepts or {@code timeout} passes (QEMU creates the socket shortly after it starts).
     */
    public static QmpClient connect(Path socket, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (true) {
            SocketChannel channel = null;
            try {
                channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                connectBefore(channel, UnixDomainSocketAddress.of(socket), deadline, timeout);
                QmpClient client = handshake(channel, timeout);
                return client;
            } catch (IOException e) {
                last = e;
                closeQuietly(channel);
            } catch (RuntimeException e) {
                closeQuietly(channel);
                throw e;
            }
            if (System.nanoTime() > deadline) {
                throw new QmpException("cannot connect to QMP socket " + socket + ": " + last.getMessage(), last);
            }
            sleep(Duration.ofMillis(50));
        }
    }

    /**
     * A UNIX-socket connect blocks without limit once the listener's backlog is full, which is what
     * a stopped or hung QEMU's monitor looks like after a few earlier attempts: so the connect runs
     * on a virtual thread, and closing the channel at the deadline ends it.
     */
    private static final Duration MIN_CONNECT_WAIT = Duration.ofMillis(100);

    private static void connectBefore(SocketChannel channel, UnixDomainSocketAddress address, long deadline,
                                      Duration timeout) throws IOException {
        CompletableFuture<Void> connected = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                channel.connect(address);
                connected.complete(null);
            } catch (Exception e) {
                connected.completeExceptionally(e);
            }
        });
        try {
            // At least a moment even at the deadline: a missing socket fails at once, and should
            // say so rather than look like a full backlog.
            connected.get(Math.max(MIN_CONNECT_WAIT.toNanos(), deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            closeQuietly(channel);
            throw new QmpException("cannot connect to QMP socket " + address.getPath() + ": it accepted no connection within "
                    + timeout + " (a stopped or hung VMM?)", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new QmpException("cannot connect to QMP socket " + address.getPath() + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(channel);
            throw new QmpException("interrupted while connecting to " + address.getPath(), e);
        }
    }

    private static QmpClient handshake(SocketChannel channel, Duration timeout) throws IOException {
        InputStream in = Channels.newInputStream(channel);
        // The greeting is read on a virtual thread so a silent peer (a monitor busy with another
        // client, a hung QEMU) cannot block us past the timeout. Creating the reader already reads
        // (Jackson detects the encoding from the first bytes), so it belongs on that thread too.
        record Opened(MappingIterator<JsonNode> replies, JsonNode greeting) {}
        CompletableFuture<Opened> greetingFuture = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                MappingIterator<JsonNode> it = JSON.readerFor(JsonNode.class).readValues(in);
                greetingFuture.complete(new Opened(it, it.hasNextValue() ? it.nextValue() : null));
            } catch (Exception e) {
                greetingFuture.completeExceptionally(e);
            }
        });
        Opened opened;
        try {
            opened = greetingFuture.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            closeQuietly(channel); // unblocks the reader thread
            throw new QmpException("no QMP greeting within " + timeout, e);
        } catch (ExecutionException e) {
            throw new IOException("QMP greeting failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(channel);
            throw new QmpException("interrupted while waiting for the QMP greeting", e);
        }
        JsonNode greeting = opened.greeting();
        MappingIterator<JsonNode> replies = opened.replies();
        if (greeting == null || !greeting.has("QMP")) {
            throw new QmpException(null, "the peer is not a QMP server (greeting: " + greeting + ")");
        }
        QmpClient client = new QmpClient(channel, greeting, replies);
        try {
            client.execute("qmp_capabilities", Map.of(), timeout);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
        return client;
    }

    /** QEMU's greeting, e.g. {@code {"QMP":{"version":{"qemu":{"major":7,...}}}}}. */
    public JsonNode greeting() {
        return greeting;
    }

    /** {@code major.minor.micro} from the greeting. */
    public String qemuVersion() {
        JsonNode v = greeting.path("QMP").path("version").path("qemu");
        return v.path("major").asInt() + "." + v.path("minor").asInt() + "." + v.path("micro").asInt();
    }

    public void addEventListener(Consumer<QmpEvent> listener) {
        listeners.add(listener);
    }

    public JsonNode execute(String command, Duration timeout) {
        return execute(command, Map.of(), timeout);
    }

    /**
     * Sends one command and waits for its reply.
     *
     * @return the {@code return} value
     * @throws QmpException with QEMU's error class and description, or on timeout/closed monitor
     */
    public JsonNode execute(String command, Map<String, ?> arguments, Duration timeout) {
        String id = "mvm-" + ids.incrementAndGet();
        ObjectNode request = JsonNodeFactory.instance.objectNode();
        request.put("execute", command);
        if (!arguments.isEmpty()) {
            request.set("arguments", JSON.valueToTree(arguments));
        }
        request.put("id", id);
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        try {
            if (closed) {
                throw new QmpException(null, "QMP connection is closed");
            }
            send(request);
            JsonNode response = reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            JsonNode error = response.get("error");
            if (error != null) {
                throw new QmpException(error.path("class").asText("GenericError"),
                        command + " failed: " + error.path("desc").asText("(no description)"));
            }
            return response.path("return");
        } catch (TimeoutException e) {
            throw new QmpException("QMP command " + command + " got no reply within " + timeout, e);
        } catch (ExecutionException e) {
            throw new QmpException("QMP command " + command + " failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted during QMP command " + command, e);
        } finally {
            pending.remove(id);
        }
    }

    private void send(ObjectNode request) {
        byte[] bytes;
        try {
            bytes = (JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        synchronized (writeLock) {
            try {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                throw new QmpException("cannot write to QMP socket: " + e.getMessage(), e);
            }
        }
    }

    private void readLoop() {
        Throwable failure = null;
        try {
            while (replies.hasNextValue()) {
                dispatch(replies.nextValue());
            }
        } catch (Exception e) {
            failure = e;
        } finally {
            boolean closedByUs = closed;
            closed = true;
            QmpException gone = new QmpException(null, "QMP connection closed"
                    + (failure == null || closedByUs ? "" : ": " + failure.getMessage()));
            pending.values().forEach(f -> f.completeExceptionally(gone));
        }
    }

    private void dispatch(JsonNode message) {
        if (message.has("event")) {
            JsonNode ts = message.path("timestamp");
            Instant at = ts.isMissingNode() ? Instant.EPOCH
                    : Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000);
            QmpEvent event = new QmpEvent(message.get("event").asText(), message.path("data"), at);
            for (Consumer<QmpEvent> listener : listeners) {
                try {
                    listener.accept(event);
                } catch (RuntimeException ignored) {
                    // A faulty listener must not stop the reader for everybody else.
                }
            }
            return;
        }
        JsonNode id = message.get("id");
        if (id != null) {
            CompletableFuture<JsonNode> waiter = pending.get(id.asText());
            if (waiter != null) {
                waiter.complete(message);
            }
        }
    }

    public boolean isOpen() {
        return !closed;
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(channel);
        try {
            reader.join(Duration.ofSeconds(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while connecting to QMP", e);
        }
    }
}
