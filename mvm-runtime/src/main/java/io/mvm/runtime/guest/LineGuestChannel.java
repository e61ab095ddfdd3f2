package io.mvm.runtime.guest;

import io.mvm.model.MvmException;
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
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guest agent's line protocol over a host Unix socket, whatever carries it to the guest:
 * QEMU's virtio-serial chardev ({@link VirtioSerialGuestChannel}) or Firecracker's vsock proxy
 * ({@link VsockGuestChannel}). Only how a connection is opened differs: each transport is a
 * subclass that supplies its {@link Dialer}.
 *
 * <p>Calls may overlap (a health check while an exec runs): each request carries an id, one
 * reader thread per connection hands every answer to the call waiting for that id, and answers
 * nobody waits for any more (their call timed out) are dropped. The connection is opened lazily
 * and re-opened whenever it breaks, because a restored snapshot or a restarted VMM creates a new
 * socket at the same path; requests that are harmless to repeat are re-sent once reconnected.
 * Every call has a deadline.
 */
public abstract sealed class LineGuestChannel implements GuestChannel
        permits VirtioSerialGuestChannel, VsockGuestChannel {
    private static final Logger log = LoggerFactory.getLogger(LineGuestChannel.class);
    /** Extra time over a guest-side timeout for the guest shell to answer under TCG and load. */
    static final Duration TRANSPORT_MARGIN = Duration.ofSeconds(30);
    /**
     * The longest answer line taken from a guest: room for an exec's stdout and stderr at the guest
     * agent's cap (1 MiB each, base64: 4/3 of that) plus the header. A guest that writes more gets
     * that call refused, never the host's memory: the reader keeps at most this much of one line.
     */
    static final int MAX_LINE_BYTES = 4 * 1024 * 1024;
    /** How much of an over-long line is kept to find whose answer it was (its header). */
    private static final int HEADER_BYTES = 64;
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
    private final ReentrantLock connecting = new ReentrantLock();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong nextId;
    private volatile Connection connection;
    private volatile boolean closed;

    /** A call waiting for its answer on a particular connection. */
    private record Pending(Connection connection, CompletableFuture<AgentAnswer> answer, StreamedOutput streamed) {}

    /** The status of a line that carries part of a running exec's output, not its answer. */
    private static final String OUTPUT = "output";

    /**
     * Nothing is opened yet: the first call connects (and keeps retrying until its deadline), so a
     * channel can be made while the VM is still booting.
     */
    LineGuestChannel(Path socket, Dialer dialer) {
        this.socket = socket.toAbsolutePath();
        this.dialer = dialer;
        // Random start: a new channel (e.g. after an agent restart) must not reuse ids that a
        // still-running guest request of an older channel will answer to.
        this.nextId = new AtomicLong(ThreadLocalRandom.current().nextLong(1, 1L << 40));
    }

    public Path socket() {
        return socket;
    }

    @Override
    public Health health(Duration timeout) {
        AgentAnswer answer = call(new AgentRequest.Health(), timeout);
        try {
            return new Health(answer.version(), answer.required("hostname"),
                    Double.parseDouble(answer.required("uptime")), answer.required("kernel"),
                    answer.text("workload").orElse("unknown"));
        } catch (NumberFormatException e) {
            throw new GuestChannelException("guest agent reported a malformed uptime", e);
        }
    }

    @Override
    public ExecResult exec(ExecRequest request) {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        ExecResult result = exec(request, (stream, bytes) -> (stream == ExecStream.STDOUT ? stdout : stderr).writeBytes(bytes));
        return new ExecResult(result.exitCode(), stdout.toByteArray(), stderr.toByteArray(), result.timedOut(),
                result.truncated());
    }

    @Override
    public ExecResult exec(ExecRequest request, ExecOutput output) {
        StreamedOutput streamed = new StreamedOutput(EXEC_OUTPUT_CAP);
        AgentAnswer answer = call(new AgentRequest.Exec(request), request.timeout().plus(TRANSPORT_MARGIN), streamed, output);
        // A guest agent that predates streaming sends the output in its final answer.
        answer.bytes("stdout").ifPresent(bytes -> streamed.offer(ExecStream.STDOUT, bytes));
        answer.bytes("stderr").ifPresent(bytes -> streamed.offer(ExecStream.STDERR, bytes));
        streamed.deliverTo(output);
        try {
            return new ExecResult(Integer.parseInt(answer.required("exit").strip()), new byte[0], new byte[0],
                    Boolean.parseBoolean(answer.required("timed-out")),
                    // absent from guest agents older than the output cap
                    answer.text("truncated").map(Boolean::parseBoolean).orElse(false) || streamed.truncated());
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
    public long applyIdentity(GuestIdentity identity, Duration timeout) {
        AgentAnswer answer = call(new AgentRequest.CloneIdentity(identity), timeout);
        try {
            return Long.parseLong(answer.required("generation").strip());
        } catch (NumberFormatException e) {
            throw new GuestChannelException("guest agent reported a malformed generation", e);
        }
    }

    /** Closes the connection; calls in flight fail at once with "closed" instead of at their deadline. */
    @Override
    public void close() {
        closed = true;
        Connection current = connection;
        if (current != null) {
            current.kill(new IOException("guest channel closed"));
        }
    }

    private GuestChannelException closedError() {
        return new GuestChannelException("guest channel " + socket + " is closed");
    }

    private AgentAnswer call(AgentRequest request, Duration timeout) {
        return call(request, timeout, null, null);
    }

    /**
     * Sends one request and waits for its answer; with {@code streamed}, the {@code output} lines
     * the guest sends before it are handed to {@code output} meanwhile.
     */
    private AgentAnswer call(AgentRequest request, Duration timeout, StreamedOutput streamed, ExecOutput output) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw MvmException.invalid(request.verb() + " needs a positive timeout");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable lastFailure = null;
        boolean sent = false;
        while (!closed && System.nanoTime() < deadline) {
            if (sent && !request.idempotent()) {
                throw new GuestChannelException("connection to the guest agent at " + socket + " broke during "
                        + request.verb() + "; its outcome is unknown", lastFailure);
            }
            Connection current = connected(deadline);
            if (current == null) {
                break;
            }
            long id = nextId.getAndIncrement();
            CompletableFuture<AgentAnswer> answer = new CompletableFuture<>();
            pending.put(id, new Pending(current, answer, streamed));
            try {
                sent = true;
                current.send(AgentProtocol.encodeRequest(PROTOCOL_VERSION, id, request), deadline);
                return check(request, await(answer, deadline, streamed, output));
            } catch (TimeoutException e) {
                break;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof AnswerTooLongException tooLong) {
                    // The guest will answer the same way again: a refusal for this call, not a retry.
                    throw new GuestRefusedException("guest agent's answer to " + request.verb() + " on " + socket
                            + " " + tooLong.getMessage());
                }
                lastFailure = e.getCause();
                log.debug("guest channel {}: {} lost its connection: {}", socket, request.verb(), e.getCause().toString());
                pause(deadline);
            } catch (IOException e) {
                lastFailure = e;
                current.kill(e);
                pause(deadline);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GuestChannelException("interrupted while waiting for the guest agent", e);
            } finally {
                pending.remove(id);
            }
        }
        if (closed) {
            throw closedError();
        }
        throw new GuestChannelException("guest agent at " + socket + " did not answer " + request.verb()
                + " within " + timeout.toMillis() + " ms"
                + (lastFailure == null ? "" : " (last error: " + lastFailure.getMessage() + ")"), lastFailure);
    }

    private static AgentAnswer await(CompletableFuture<AgentAnswer> answer, long deadline, StreamedOutput streamed,
            ExecOutput output) throws InterruptedException, ExecutionException, TimeoutException {
        if (streamed == null) {
            return answer.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
        answer.whenComplete((done, failed) -> streamed.finish());
        while (!answer.isDone()) {
            streamed.deliverTo(output);
            if (!streamed.awaitMore(deadline)) {
                throw new TimeoutException();
            }
        }
        // The reader queues every output line before it completes the answer that follows them.
        streamed.deliverTo(output);
        return answer.get();
    }

    private static AgentAnswer check(AgentRequest request, AgentAnswer answer) {
        if (answer.version() != PROTOCOL_VERSION) {
            throw new GuestRefusedException("guest agent speaks protocol version " + answer.version()
                    + " but this host speaks " + PROTOCOL_VERSION
                    + "; rebuild the guest image (mvm bootstrap) or use a matching mvm");
        }
        if (!answer.ok()) {
            throw new GuestRefusedException("guest agent refused " + request.verb() + ": "
                    + answer.text("message").orElse(answer.status()));
        }
        return answer;
    }

    /** The live connection, opening one if needed; null when the deadline passed or the channel closed. */
    private Connection connected(long deadline) {
        Connection current = connection;
        if (current != null && current.alive()) {
            return current;
        }
        connecting.lock();
        try {
            while (!closed && System.nanoTime() < deadline) {
                current = connection;
                if (current != null && current.alive()) {
                    return current;
                }
                try {
                    Connection opened = Connection.open(this, deadline);
                    connection = opened;
                    // Terminates whatever fragment an earlier host left in the guest's line buffer.
                    opened.send("\n", deadline);
                    log.debug("guest channel {}: connected", socket);
                    return opened;
                } catch (IOException e) {
                    // Not there yet (VMM starting) or refused (VMM restarting): try again shortly.
                    pause(deadline);
                }
            }
            return null;
        } finally {
            connecting.unlock();
        }
    }

    private void deliver(Connection from, String line) {
        Optional<AgentAnswer> answer = decodeOrDrop(line);
        if (answer.isEmpty()) {
            return;
        }
        Pending waiting = pending.get(answer.get().id());
        if (waiting == null || waiting.connection() != from) {
            log.debug("guest channel {}: dropping late answer to request {}", socket, answer.get().id());
            return;
        }
        if (OUTPUT.equals(answer.get().status())) {
            if (waiting.streamed() != null) {
                waiting.streamed().offer(answer.get());
            }
            return;
        }
        waiting.answer().complete(answer.get());
    }

    /**
     * The guest sent a line longer than {@link #MAX_LINE_BYTES}: the call it answers (named by the
     * id in its header, if the header is one) fails; the rest of the line is skipped by the reader.
     */
    private void answerTooLong(Connection from, String header) {
        String[] words = header.split(" ", 4);
        if (words.length < 4 || !words[0].equals("mvm")) {
            log.debug("guest channel {}: dropping an over-long line that is no answer", socket);
            return;
        }
        long id;
        try {
            id = Long.parseLong(words[2]);
        } catch (NumberFormatException e) {
            return;
        }
        Pending waiting = pending.get(id);
        if (waiting != null && waiting.connection() == from) {
            waiting.answer().completeExceptionally(new AnswerTooLongException(
                    "was longer than " + MAX_LINE_BYTES + " bytes; dropped"));
        }
    }

    /** An answer line over the limit: whose call fails with a refusal, the connection lives on. */
    private static final class AnswerTooLongException extends IOException {
        AnswerTooLongException(String message) {
            super(message);
        }
    }

    private void connectionLost(Connection lost, IOException cause) {
        pending.values().stream()
                .filter(p -> p.connection() == lost)
                .forEach(p -> p.answer().completeExceptionally(cause));
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

    /**
     * One socket connection to the VMM: a non-blocking channel read by its own virtual thread
     * (blocked in a selector) and written by callers one at a time (each with its own deadline).
     */
    private static final class Connection {
        private final LineGuestChannel owner;
        private final SocketChannel channel;
        private final Selector readable;
        private final Selector writable;
        private final ReentrantLock writing = new ReentrantLock();
        private volatile boolean dead;

        private Connection(LineGuestChannel owner, SocketChannel channel, Selector readable, Selector writable) {
            this.owner = owner;
            this.channel = channel;
            this.readable = readable;
            this.writable = writable;
        }

        static Connection open(LineGuestChannel owner, long deadline) throws IOException {
            SocketChannel channel = owner.dialer.dial(owner.socket, deadline);
            try {
                channel.configureBlocking(false);
                Selector readable = Selector.open();
                Selector writable = Selector.open();
                channel.register(readable, SelectionKey.OP_READ);
                channel.register(writable, SelectionKey.OP_WRITE);
                Connection connection = new Connection(owner, channel, readable, writable);
                Thread.ofVirtual().name("guest-channel-reader").start(connection::readLoop);
                return connection;
            } catch (IOException e) {
                channel.close();
                throw e;
            }
        }

        boolean alive() {
            return !dead;
        }

        void send(String line, long deadline) throws IOException {
            ByteBuffer out = ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII));
            writing.lock();
            try {
                while (out.hasRemaining()) {
                    if (dead) {
                        throw new IOException("guest channel connection is closed");
                    }
                    if (channel.write(out) == 0) {
                        long remaining = remainingMillis(deadline);
                        if (remaining <= 0) {
                            throw new IOException("timed out writing to the guest channel");
                        }
                        writable.select(remaining); // at least 1: select(0) would wait forever
                        writable.selectedKeys().clear();
                    }
                }
            } catch (java.nio.channels.ClosedSelectorException e) {
                throw new IOException("guest channel connection is closed", e);
            } finally {
                if (dead) {
                    closeQuietly(writable);
                }
                writing.unlock();
            }
        }

        private void readLoop() {
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            LineBuffer lines = new LineBuffer();
            IOException cause = new IOException("guest channel closed by the VMM");
            try {
                while (!dead) {
                    readable.select();
                    readable.selectedKeys().clear();
                    int n = channel.read(buffer);
                    if (n < 0) {
                        break;
                    }
                    buffer.flip();
                    lines.append(buffer.array(), buffer.position(), buffer.remaining());
                    buffer.clear();
                    for (Optional<String> line = lines.nextLine(); line.isPresent(); line = lines.nextLine()) {
                        owner.deliver(this, line.get());
                    }
                    if (lines.size() > MAX_LINE_BYTES) {
                        // Skipped to its end rather than closing the connection: a reconnect would
                        // only read the rest of the same line as the start of the next one.
                        owner.answerTooLong(this, lines.discardCurrentLine(HEADER_BYTES));
                    }
                }
            } catch (IOException e) {
                cause = e;
            } finally {
                kill(cause);
                closeQuietly(readable);
            }
        }

        void kill(IOException cause) {
            dead = true;
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("guest channel {}: error while closing: {}", owner.socket, e.toString());
            }
            readable.wakeup(); // the reader thread sees the closed channel and closes its selector
            writable.wakeup();
            // The write selector belongs to whoever holds the write lock; a sender closes it on its way out.
            if (writing.tryLock()) {
                try {
                    closeQuietly(writable);
                } finally {
                    writing.unlock();
                }
            }
            owner.connectionLost(this, cause);
        }

        private static void closeQuietly(Selector selector) {
            try {
                selector.close();
            } catch (IOException ignored) {
                // it only held this connection's channel, which is closed already
            }
        }
    }

    /**
     * Bytes received but not yet split into lines; scans each byte for the newline only once. After
     * {@link #discardCurrentLine} it drops everything up to the next newline instead of keeping it.
     */
    private static final class LineBuffer {
        private static final int INITIAL = 64 * 1024;
        private byte[] bytes = new byte[INITIAL];
        private int length;
        private int scanned;
        private boolean discarding;

        void append(byte[] source, int offset, int count) {
            if (discarding) {
                int end = offset + count;
                int newline = offset;
                while (newline < end && source[newline] != '\n') {
                    newline++;
                }
                if (newline == end) {
                    return;
                }
                discarding = false;
                count = end - newline - 1;
                offset = newline + 1;
            }
            if (length + count > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + count));
            }
            System.arraycopy(source, offset, bytes, length, count);
            length += count;
        }

        Optional<String> nextLine() {
            for (int i = scanned; i < length; i++) {
                if (bytes[i] == '\n') {
                    String line = new String(bytes, 0, i, StandardCharsets.US_ASCII);
                    System.arraycopy(bytes, i + 1, bytes, 0, length - i - 1);
                    length -= i + 1;
                    scanned = 0;
                    return Optional.of(line);
                }
            }
            scanned = length;
            return Optional.empty();
        }

        int size() {
            return length;
        }

        /**
         * Forgets the incomplete line held so far (and releases its memory) and skips the rest of it
         * as it arrives; returns its first {@code headerBytes} bytes.
         */
        String discardCurrentLine(int headerBytes) {
            String header = new String(bytes, 0, Math.min(headerBytes, length), StandardCharsets.US_ASCII);
            bytes = new byte[INITIAL];
            length = 0;
            scanned = 0;
            discarding = true;
            return header;
        }
    }
}
