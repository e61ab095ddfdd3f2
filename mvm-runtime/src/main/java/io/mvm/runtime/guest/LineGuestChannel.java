package io.mvm.runtime.guest;

import io.mvm.runtime.guest.AgentProtocol.AgentAnswer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guest agent's line protocol over a host Unix socket, whatever carries it to the guest:
 * QEMU's virtio-serial chardev ({@link VirtioSerialGuestChannel}) or Firecracker's vsock proxy
 * ({@link VsockGuestChannel}). Only how a connection is opened differs (a {@link Dialer}); the
 * framing, ids, deadlines and reconnects are shared here.
 *
 * <p>Calls are serialised (the agent serves one request at a time) and each has a deadline. The
 * connection is opened lazily and re-opened whenever it breaks, because a restored snapshot or a
 * restarted VMM creates a new socket at the same path; requests that are harmless to repeat are
 * re-sent once reconnected. Answers carry the request id, so a late answer to a request that
 * already timed out is recognised and dropped.
 */
public final class LineGuestChannel implements GuestChannel {
    private static final Logger log = LoggerFactory.getLogger(LineGuestChannel.class);
    /** Extra time over a guest-side timeout for the guest shell to answer under TCG and load. */
    static final Duration TRANSPORT_MARGIN = Duration.ofSeconds(30);
    private static final int MAX_LINE_BYTES = 256 * 1024 * 1024;
    private static final long RECONNECT_PAUSE_MILLIS = 50;

    /**
     * Opens one connection to the agent, ready for protocol lines. Throws when the other end is not
     * there (yet); the channel retries until the call's deadline.
     */
    @FunctionalInterface
    public interface Dialer {
        SocketChannel dial(Path socket, long deadlineNanos) throws IOException;

        /** A plain connect: the socket leads straight to the agent (virtio-serial). */
        Dialer DIRECT = (socket, deadlineNanos) -> {
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(UnixDomainSocketAddress.of(socket));
                return channel;
            } catch (IOException e) {
                channel.close();
                throw e;
            }
        };
    }

    private final Path socket;
    private final Dialer dialer;
    private final ReentrantLock lock = new ReentrantLock();
    private final ByteArrayOutputStream partialLine = new ByteArrayOutputStream();
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private SocketChannel connection;
    private Selector selector;
    private long nextId;
    private boolean closed;

    private LineGuestChannel(Path socket, Dialer dialer) {
        this.socket = socket.toAbsolutePath();
        this.dialer = dialer;
        // Random start: a new channel (e.g. after an agent restart) must not reuse ids that a
        // still-running guest request of an older channel will answer to.
        this.nextId = ThreadLocalRandom.current().nextLong(1, 1L << 40);
    }

    /**
     * A channel to the agent behind {@code socket}. Nothing is opened yet: the first call connects
     * (and keeps retrying until its deadline), so this can be called while the VM is still booting.
     */
    public static LineGuestChannel connect(Path socket, Dialer dialer) {
        return new LineGuestChannel(socket, dialer);
    }

    public Path socket() {
        return socket;
    }

    @Override
    public Health health(Duration timeout) {
        AgentAnswer answer = call(new AgentRequest.Health(), timeout);
        try {
            return new Health(answer.version(), answer.required("hostname"),
                    Double.parseDouble(answer.required("uptime")), answer.required("kernel"));
        } catch (NumberFormatException e) {
            throw new GuestChannelException("guest agent reported a malformed uptime", e);
        }
    }

    @Override
    public ExecResult exec(ExecRequest request) {
        AgentRequest.Exec exec = new AgentRequest.Exec(request);
        AgentAnswer answer = call(exec, request.timeout().plus(TRANSPORT_MARGIN));
        try {
            return new ExecResult(Integer.parseInt(answer.required("exit").strip()),
                    answer.bytes("stdout").orElse(new byte[0]),
                    answer.bytes("stderr").orElse(new byte[0]),
                    Boolean.parseBoolean(answer.required("timed-out")));
        } catch (NumberFormatException e) {
            throw new GuestChannelException("guest agent reported a malformed exit code", e);
        }
    }

    @Override
    public DrainResult drain(Duration deadline) {
        long started = System.nanoTime();
        AgentAnswer answer = call(new AgentRequest.Drain(deadline), deadline.plus(TRANSPORT_MARGIN));
        return new DrainResult(Boolean.parseBoolean(answer.required("completed")), Duration.ofNanos(System.nanoTime() - started));
    }

    @Override
    public WorkloadStatus workload(Duration timeout) {
        AgentAnswer answer = call(new AgentRequest.Workload(), timeout);
        String state = answer.required("state");
        Integer exitCode = answer.text("exit").map(String::strip).filter(s -> !s.isEmpty()).map(s -> {
            try {
                return Integer.valueOf(s);
            } catch (NumberFormatException e) {
                throw new GuestChannelException("guest agent reported a malformed workload exit code '" + s + "'");
            }
        }).orElse(null);
        return new WorkloadStatus(state, "exited".equals(state) ? exitCode : null);
    }

    @Override
    public void reloadSecrets(Duration timeout) {
        call(new AgentRequest.ReloadSecrets(), timeout);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            disconnect();
        } finally {
            lock.unlock();
        }
    }

    private AgentAnswer call(AgentRequest request, Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw io.mvm.model.MvmException.invalid(request.verb() + " needs a positive timeout");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            if (closed) {
                throw new GuestChannelException("guest channel " + socket + " is closed");
            }
            IOException lastFailure = null;
            boolean sent = false;
            while (System.nanoTime() < deadline) {
                if (sent && !request.idempotent()) {
                    throw new GuestChannelException("connection to the guest agent at " + socket + " broke during "
                            + request.verb() + "; its outcome is unknown", lastFailure);
                }
                try {
                    ensureConnected(deadline);
                    if (connection == null) {
                        break;
                    }
                    long id = nextId++;
                    sent = true;
                    write(AgentProtocol.encodeRequest(PROTOCOL_VERSION, id, request), deadline);
                    Optional<AgentAnswer> answer = awaitAnswer(id, deadline);
                    if (answer.isPresent()) {
                        return check(request, answer.get());
                    }
                } catch (IOException e) {
                    lastFailure = e;
                    log.debug("guest channel {}: {} failed, reconnecting: {}", socket, request.verb(), e.toString());
                    disconnect();
                    pause(deadline);
                }
            }
            throw new GuestChannelException("guest agent at " + socket + " did not answer " + request.verb()
                    + " within " + timeout.toMillis() + " ms"
                    + (lastFailure == null ? "" : " (last error: " + lastFailure.getMessage() + ")"), lastFailure);
        } finally {
            lock.unlock();
        }
    }

    private static AgentAnswer check(AgentRequest request, AgentAnswer answer) {
        if (answer.version() != PROTOCOL_VERSION) {
            throw new GuestChannelException("guest agent speaks protocol version " + answer.version()
                    + " but this host speaks " + PROTOCOL_VERSION
                    + "; rebuild the guest image (mvm bootstrap) or use a matching mvm");
        }
        if (!answer.ok()) {
            throw new GuestChannelException("guest agent refused " + request.verb() + ": "
                    + answer.text("message").orElse(answer.status()));
        }
        return answer;
    }

    private void ensureConnected(long deadline) throws IOException {
        while (connection == null && System.nanoTime() < deadline) {
            SocketChannel candidate;
            try {
                candidate = dialer.dial(socket, deadline);
            } catch (IOException e) {
                // Not there yet (VMM starting) or refused (VMM restarting): try again shortly.
                pause(deadline);
                continue;
            }
            candidate.configureBlocking(false);
            selector = Selector.open();
            candidate.register(selector, SelectionKey.OP_READ);
            connection = candidate;
            partialLine.reset();
            readBuffer.clear();
            log.debug("guest channel {}: connected", socket);
            // Terminates whatever fragment an earlier host left in the guest's line buffer.
            write("\n", deadline);
        }
    }

    private void write(String line, long deadline) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII));
        SelectionKey key = connection.keyFor(selector);
        try {
            while (out.hasRemaining()) {
                if (connection.write(out) == 0) {
                    key.interestOps(SelectionKey.OP_WRITE);
                    if (selector.select(remainingMillis(deadline)) == 0 && System.nanoTime() >= deadline) {
                        throw new IOException("timed out writing to the guest channel");
                    }
                    selector.selectedKeys().clear();
                }
            }
        } finally {
            if (key.isValid()) {
                key.interestOps(SelectionKey.OP_READ);
            }
        }
    }

    /** Reads answers until one carries {@code id}; empty when the deadline passes first. */
    private Optional<AgentAnswer> awaitAnswer(long id, long deadline) throws IOException {
        while (true) {
            Optional<String> line = nextBufferedLine();
            while (line.isPresent()) {
                Optional<AgentAnswer> answer = decodeOrDrop(line.get());
                if (answer.isPresent() && answer.get().id() == id) {
                    return answer;
                }
                answer.ifPresent(a -> log.debug("guest channel {}: dropping late answer to request {}", socket, a.id()));
                line = nextBufferedLine();
            }
            long remaining = remainingMillis(deadline);
            if (remaining <= 0) {
                return Optional.empty();
            }
            selector.select(remaining);
            selector.selectedKeys().clear();
            int n = connection.read(readBuffer);
            if (n < 0) {
                throw new IOException("guest channel closed by the VMM");
            }
            readBuffer.flip();
            partialLine.write(readBuffer.array(), readBuffer.position(), readBuffer.remaining());
            readBuffer.clear();
            if (partialLine.size() > MAX_LINE_BYTES) {
                throw new IOException("guest agent sent a line longer than " + MAX_LINE_BYTES + " bytes");
            }
        }
    }

    /**
     * A line that is not a complete answer is the tail of one the guest was writing when an
     * earlier host went away; it belongs to nobody and is dropped.
     */
    private Optional<AgentAnswer> decodeOrDrop(String line) {
        try {
            return Optional.of(AgentProtocol.decodeAnswer(line));
        } catch (GuestChannelException e) {
            log.debug("guest channel {}: dropping {}", socket, e.getMessage());
            return Optional.empty();
        }
    }

    private Optional<String> nextBufferedLine() {
        byte[] buffered = partialLine.toByteArray();
        for (int i = 0; i < buffered.length; i++) {
            if (buffered[i] == '\n') {
                String line = new String(buffered, 0, i, StandardCharsets.US_ASCII);
                partialLine.reset();
                partialLine.write(buffered, i + 1, buffered.length - i - 1);
                return Optional.of(line);
            }
        }
        return Optional.empty();
    }

    private static long remainingMillis(long deadline) {
        long nanos = deadline - System.nanoTime();
        return nanos <= 0 ? 0 : Math.max(1, nanos / 1_000_000);
    }

    private static void pause(long deadline) {
        long millis = Math.min(RECONNECT_PAUSE_MILLIS, remainingMillis(deadline));
        if (millis > 0) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GuestChannelException("interrupted while waiting for the guest agent", e);
            }
        }
    }

    private void disconnect() {
        try {
            if (selector != null) {
                selector.close();
            }
            if (connection != null) {
                connection.close();
            }
        } catch (IOException e) {
            log.debug("guest channel {}: error while closing: {}", socket, e.toString());
        } finally {
            selector = null;
            connection = null;
            partialLine.reset();
        }
    }
}
