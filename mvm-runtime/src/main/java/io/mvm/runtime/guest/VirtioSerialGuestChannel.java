package io.mvm.runtime.guest;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Talks to the guest agent through the Unix socket of QEMU's virtio-serial chardev
 * ({@code -chardev socket,id=agent,path=...,server=on,wait=off}): the socket leads straight to
 * the guest's port, so a plain connect is all it takes. The protocol is {@link LineGuestChannel}'s.
 */
public final class VirtioSerialGuestChannel implements GuestChannel {
    private final LineGuestChannel lines;

    private VirtioSerialGuestChannel(Path socket) {
        this.lines = LineGuestChannel.connect(socket, LineGuestChannel.Dialer.DIRECT);
    }

    /**
     * A channel to the agent behind {@code socket}. Nothing is opened yet: the first call connects
     * (and keeps retrying until its deadline), so this can be called while the VM is still booting.
     */
    public static VirtioSerialGuestChannel connect(Path socket) {
        return new VirtioSerialGuestChannel(socket);
    }

    public Path socket() {
        return lines.socket();
    }

    @Override
    public Health health(Duration timeout) {
        return lines.health(timeout);
    }

    @Override
    public ExecResult exec(ExecRequest request) {
        return lines.exec(request);
    }

    @Override
    public DrainResult drain(Duration deadline) {
        return lines.drain(deadline);
    }

    @Override
    public WorkloadStatus workload(Duration timeout) {
        return lines.workload(timeout);
    }

    @Override
    public void reloadSecrets(Duration timeout) {
        lines.reloadSecrets(timeout);
    }

    @Override
    public void close() {
        lines.close();
    }
}
