package io.mvm.runtime.guest;

import io.mvm.runtime.qemu.AgentConnector;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One guest channel per VM for everyone in this process while they use it. A VMM's agent socket
 * takes one connection at a time (QEMU's socket chardev leaves a second one waiting in the listen
 * queue until the first closes), so a connection per call would make a health probe, a claim or a
 * second exec wait behind a long-running exec — and a health probe that waits long enough gets a
 * healthy VM restarted. A {@link LineGuestChannel} already multiplexes overlapping calls by request
 * id, so callers that overlap share one.
 *
 * <p>Callers get a view; the connection is closed when the last open view is closed, so an idle
 * process holds no connection and another process (a CLI {@code vm exec}, a second runtime) can
 * reach the guest. {@link #forget} closes it at once when its VM goes away.
 */
public final class SharedGuestChannels implements AgentConnector {
    private final Map<Path, Shared> channels = new HashMap<>();

    /** A channel and how many views of it are open; guarded by the enclosing instance. */
    private static final class Shared {
        final VirtioSerialGuestChannel channel;
        int views;

        Shared(VirtioSerialGuestChannel channel) {
            this.channel = channel;
        }
    }

    @Override
    public GuestChannel connect(Path agentSocket) {
        Path key = agentSocket.toAbsolutePath();
        Shared shared;
        synchronized (this) {
            shared = channels.computeIfAbsent(key, k -> new Shared(VirtioSerialGuestChannel.connect(k)));
            shared.views++;
        }
        return new Borrowed(shared.channel, () -> release(key, shared));
    }

    private void release(Path key, Shared shared) {
        boolean last;
        synchronized (this) {
            last = --shared.views == 0 && channels.remove(key, shared);
        }
        if (last) {
            shared.channel.close();
        }
    }

    @Override
    public void forget(Path agentSocket) {
        Shared gone;
        synchronized (this) {
            gone = channels.remove(agentSocket.toAbsolutePath());
        }
        if (gone != null) {
            gone.channel.close();
        }
    }

    /** How many VMs have a channel open now (for tests). */
    synchronized int size() {
        return channels.size();
    }

    private static final class Borrowed implements GuestChannel {
        private final GuestChannel shared;
        private final Runnable release;
        private final AtomicBoolean closed = new AtomicBoolean();

        Borrowed(GuestChannel shared, Runnable release) {
            this.shared = shared;
            this.release = release;
        }

        @Override
        public Health health(Duration timeout) {
            return shared.health(timeout);
        }

        @Override
        public ExecResult exec(ExecRequest request) {
            return shared.exec(request);
        }

        @Override
        public ExecResult exec(ExecRequest request, ExecOutput output) {
            return shared.exec(request, output);
        }

        @Override
        public DrainResult drain(Duration deadline) {
            return shared.drain(deadline);
        }

        @Override
        public WorkloadStatus workload(Duration timeout) {
            return shared.workload(timeout);
        }

        @Override
        public void reloadSecrets(Duration timeout) {
            shared.reloadSecrets(timeout);
        }

        @Override
        public long applyIdentity(GuestIdentity identity, Duration timeout) {
            return shared.applyIdentity(identity, timeout);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release.run();
            }
        }
    }
}
