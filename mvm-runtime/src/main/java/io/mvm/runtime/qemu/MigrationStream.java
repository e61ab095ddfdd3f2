package io.mvm.runtime.qemu;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The host's end of a migration stream over a Unix socket in the VM's {@code vmm/} directory: QEMU
 * connects to ({@code migrate unix:}) or listens on ({@code migrate-incoming unix:}) that socket
 * and this process moves the bytes between it and the snapshot file. So QEMU never starts a
 * process ({@code exec:} needs {@code /bin/sh}, which seccomp's {@code spawn=deny} forbids) and
 * never opens the snapshot file: the file stays root's, out of the sandboxed VMM's reach. QMP
 * {@code getfd} would avoid the socket, but needs SCM_RIGHTS, which Java's Unix sockets cannot send.
 */
final class MigrationStream implements AutoCloseable {
    static final String OUTGOING = "migrate-out.sock";
    static final String INCOMING = "migrate-in.sock";
    private static final int CHUNK = 1 << 20;

    private final Path socket;
    private final ServerSocketChannel server;
    private final AtomicReference<java.io.Closeable> connection = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private Thread copier;

    private MigrationStream(Path socket, ServerSocketChannel server) {
        this.socket = socket;
        this.server = server;
    }

    /**
     * Listens on {@code vmm/migrate-out.sock} (owned like {@code vmm/}, so the VMM may connect) and
     * writes what the VMM sends, until it closes the stream, into {@code file}, which must exist.
     * The URI to pass to QMP {@code migrate} is {@link #uri()}.
     */
    static MigrationStream receiveInto(Path vmDir, Path file) {
        Path run = VmmJail.runDir(vmDir);
        Path socket = run.resolve(OUTGOING);
        try {
            Files.deleteIfExists(socket);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setAttribute(socket, "unix:uid", Files.getAttribute(run, "unix:uid", LinkOption.NOFOLLOW_LINKS));
            Files.setAttribute(socket, "unix:gid", Files.getAttribute(run, "unix:gid", LinkOption.NOFOLLOW_LINKS));
            MigrationStream stream = new MigrationStream(socket, server);
            stream.start("migration-from-" + vmDir.getFileName(), () -> {
                try (SocketChannel vmm = server.accept();
                     FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    stream.connection.set(vmm);
                    ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
                    while (vmm.read(buffer) >= 0) {
                        buffer.flip();
                        while (buffer.hasRemaining()) {
                            out.write(buffer);
                        }
                        buffer.clear();
                    }
                }
            });
            return stream;
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot listen for the migration stream on " + socket + ": " + e.getMessage(), e);
        }
    }

    /**
     * Connects to the socket a VMM listens on after {@code migrate-incoming} with {@link #incomingUri}
     * and sends {@code file} on a virtual thread, closing the stream at its end.
     */
    static MigrationStream sendFrom(Path vmDir, Path file) {
        Path socket = VmmJail.runDir(vmDir).resolve(INCOMING);
        MigrationStream stream = new MigrationStream(socket, null);
        stream.start("migration-to-" + vmDir.getFileName(), () -> {
            try (SocketChannel vmm = SocketChannel.open(StandardProtocolFamily.UNIX);
                 FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                stream.connection.set(vmm);
                vmm.connect(UnixDomainSocketAddress.of(socket));
                long size = in.size();
                long position = 0;
                while (position < size) {
                    position += in.transferTo(position, Math.min(size - position, CHUNK), vmm);
                }
                vmm.shutdownOutput();
            }
        });
        return stream;
    }

    static String incomingUri(Path vmDir) {
        return "unix:" + VmmJail.runDir(vmDir).resolve(INCOMING);
    }

    String uri() {
        return "unix:" + socket;
    }

    private interface Copy {
        void run() throws IOException;
    }

    private void start(String name, Copy copy) {
        copier = Thread.ofVirtual().name(name).start(() -> {
            try {
                copy.run();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
    }

    /** The copier's error, once it has failed. */
    java.util.Optional<Throwable> failure() {
        return java.util.Optional.ofNullable(failure.get());
    }

    /** Waits until every byte has been moved; fails with the copier's error or at the deadline. */
    void await(Duration deadline, String what) {
        try {
            if (!copier.join(deadline)) {
                close();
                throw new MvmException(ErrorCategory.UNAVAILABLE, what + ": the migration stream did not end within " + deadline);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted during " + what, e);
        }
        Throwable t = failure.get();
        if (t != null) {
            throw new MvmException(ErrorCategory.INTERNAL, what + ": the migration stream failed: " + t, t);
        }
    }

    /** Ends the stream (a copier blocked on it fails) and removes a socket this side created. */
    @Override
    public void close() {
        closeQuietly(connection.get());
        if (server != null) {
            closeQuietly(server);
            try {
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                // a stale socket file is replaced by the next stream
            }
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException e) {
            // already closed
        }
    }
}
