package io.mvm.runtime.qemu;

import io.mvm.runtime.guest.GuestChannel;
import java.nio.file.Path;

/** Opens the host side of a guest agent channel from the VMM's socket path. */
@FunctionalInterface
public interface AgentConnector {
    GuestChannel connect(Path agentSocket);

    /** The VM behind {@code agentSocket} is gone: a connector that keeps channels closes its one. */
    default void forget(Path agentSocket) {
    }
}
