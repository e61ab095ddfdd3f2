package io.mvm.runtime.guest;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Talks to the guest agent over Firecracker's vsock device. Firecracker proxies host-initiated
 * vsock connections through one Unix socket ({@code uds_path}): the host connects, writes
 * {@code CONNECT <guest port>\n} and reads {@code OK <host-side port>\n}; from then on the stream
 * is the guest's. If nothing listens on that guest port Firecracker simply closes the connection,
 * which the channel treats like any refused connect (retry until the deadline).
 *
 * <p>After the handshake the agent protocol is exactly {@link LineGuestChannel}'s.
 */
public final class VsockGuestChannel extends LineGuestChannel {
    /** The guest port the agent listens on when its image runs it on vsock. */
    public static final int AGENT_PORT = 1024;
    private static final int MAX_HANDSHAKE_LINE = 64;

    private VsockGuestChannel(Path udsPath, int port) {
        super(udsPath, (socket, deadline) -> dial(socket, port, deadline));
    }

    /** Nothing is opened until the first call, which retries the handshake until its deadline. */
    public static VsockGuestChannel connect(Path udsPath, int port) {
        if (port < 0) {
            throw io.mvm.model.MvmException.invalid("vsock port must not be negative, got " + port);
        }
        return new VsockGuestChannel(udsPath, port);
    }

    static SocketChannel dial(Path socket, int port, long deadlineNanos) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.configureBlocking(false);
            try (Selector selector = Selector.open()) {
                SelectionKey key = channel.register(selector, SelectionKey.OP_WRITE);
                ByteBuffer request = ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII));
                while (request.hasRemaining()) {
                    await(selector, deadlineNanos, "sending CONNECT " + port);
                    channel.write(request);
                }
                key.interestOps(SelectionKey.OP_READ);
                String reply = readLine(channel, selector, deadlineNanos, port);
                if (!reply.startsWith("OK ")) {
                    throw new IOException("vsock proxy at " + socket + " answered '" + reply + "' to CONNECT " + port);
                }
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Byte by byte, so not one byte of the agent's stream after the reply is consumed here. */
    private static String readLine(SocketChannel channel, Selector selector, long deadlineNanos, int port) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            int n = channel.read(one);
            if (n < 0) {
                throw new IOException("vsock proxy closed the connection: nothing listens on guest port " + port + " (yet)");
            }
            if (n == 0) {
                await(selector, deadlineNanos, "waiting for the answer to CONNECT " + port);
                continue;
            }
            char c = (char) (one.get(0) & 0xff);
            if (c == '\n') {
                return line.toString();
            }
            if (line.length() >= MAX_HANDSHAKE_LINE) {
                throw new IOException("vsock proxy sent an over-long handshake line");
            }
            line.append(c);
        }
    }

    private static void await(Selector selector, long deadlineNanos, String what) throws IOException {
        long millis = (deadlineNanos - System.nanoTime()) / 1_000_000;
        if (millis <= 0 || selector.select(millis) == 0 && System.nanoTime() >= deadlineNanos) {
            throw new IOException("timed out " + what);
        }
        selector.selectedKeys().clear();
    }
}
