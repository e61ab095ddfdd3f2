package io.mvm.runtime.guest;

import io.mvm.runtime.qemu.AgentConnector;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One guest channel per VM for everyone on the node. A VMM's agent socket takes one connection at
 * a time (QEMU's socket chardev leaves a second one waiting in the listen queue until the first
 * closes), so a connection per call would make a health probe, a claim or a second exec wait
 * behind a long-running exec — and a health probe that waits long enough gets a healthy VM
 * restarted. A {@link LineGuestChannel} already multiplexes overlapping calls by request id and
 * reconnects when the VMM is replaced at the same path, so sharing it is all that is needed.
 *
 * <p>Callers get a view whose {@code close()} does nothing (they keep their try-with-resources);
 * the channel itself is closed by {@link #forget} when its VM goes away.
 */
public final class SharedGuestChannels implements AgentConnector {
    private final ConcurrentHashMap<Path, VirtioSerialGuestChannel> channels = new ConcurrentHashMap<>();

    @Override
    public GuestChannel connect(Path agentSocket) {
        return new Borrowed(channels.computeIfAbsent(agentSocket.toAbsolutePath(), VirtioSerialGuestChannel::connect));
    }

    @Override
    public void forget(Path agentSocket) {
        VirtioSerialGuestChannel gone = channels.remove(agentSocket.toAbsolutePath());
        if (gone != null) {
            gone.close();
        }
    }

    /** How many VMs have a channel now (for tests). */
    int size() {
        return channels.size();
    }

    private record Borrowed(GuestChannel shared) implements GuestChannel {
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
            // shared: closed when its VM goes away (SharedGuestChannels#forget)
        }
    }
}
