package io.mvm.runtime.backend;

import io.mvm.model.Accelerator;
import java.util.Set;

/**
 * What a backend can do, fixed for its lifetime (Nomad's {@code Capabilities()}). Optional
 * abilities are also expressed as interfaces ({@link Pausable}, {@link Snapshottable}); the flags
 * here exist so a scheduler can reason about a node without holding the backend object.
 */
public record Capabilities(
        boolean pause,
        boolean snapshot,
        GuestChannelKind guestChannel,
        boolean driveHotplug,
        boolean nicHotplug,
        Set<Accelerator> accelerators) {

    public Capabilities {
        accelerators = Set.copyOf(accelerators);
    }

    public enum GuestChannelKind { VIRTIO_SERIAL, VSOCK }
}
