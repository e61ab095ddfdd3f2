package io.mvm.runtime.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The far end of a guest channel in channel tests: a real Unix socket in its own temp directory
 * whose connections, one at a time, are handed to a scripted stand-in (an agent, a vsock proxy).
 * Closing it stops the server and removes the socket and the directory.
 */
final class ScriptedSocketServer implements AutoCloseable {
    private final Path dir;
    private final Path socket;
    private ServerSocketChannel server;
    private Thread serverThread;

    /** Handles connection number {@code connection} (from 1); returning or throwing closes it. */
    interface Connection {
        void handle(int connection, BufferedReader in, OutputStream out) throws Exception;
    }

    ScriptedSocketServer(String dirPrefix, String socketName) throws IOException {
        this.dir = Files.createTempDirectory(dirPrefix);
        this.socket = dir.resolve(socketName);
    }

    Path socket() {
        return socket;
    }

    void serve(Connection script) throws IOException {
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        AtomicInteger connections = new AtomicInteger();
        serverThread = Thread.ofVirtual().start(() -> {
            while (server.isOpen()) {
                try (SocketChannel client = server.accept()) {
                    int n = connections.incrementAndGet();
                    BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client), StandardCharsets.US_ASCII));
                    script.handle(n, in, Channels.newOutputStream(client));
                } catch (Exception e) {
                    // connection ended or server closed
                }
            }
        });
    }

    @Override
    public void close() throws Exception {
        if (server != null) {
            server.close();
        }
        if (serverThread != null) {
            serverThread.interrupt();
            serverThread.join(5000);
        }
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
    }
}
