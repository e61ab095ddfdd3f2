package io.mvm.runtime.guest;

import java.nio.file.Path;

/**
 * Talks to the guest agent through the Unix socket of QEMU's virtio-serial chardev
 * ({@code -chardev socket,id=agent,path=...,server=on,wait=off}): the socket leads straight to
 * the guest's port, so a plain connect is all it takes. The protocol is {@link LineGuestChannel}'s.
 */
public final class VirtioSerialGuestChannel extends LineGuestChannel {

    private VirtioSerialGuestChannel(Path socket) {
        super(socket, Dialer.DIRECT);
    }

    /**
     * A channel to the agent behind {@code socket}. Nothing is opened yet: the first call connects
     * (and keeps retrying until its deadline), so this can be called while the VM is still booting.
     */
    public static VirtioSerialGuestChannel connect(Path socket) {
        return new VirtioSerialGuestChannel(socket);
    }
}
