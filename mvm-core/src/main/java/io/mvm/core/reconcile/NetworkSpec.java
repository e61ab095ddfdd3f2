package io.mvm.core.reconcile;

import java.util.Objects;
import java.util.Optional;

/** The instance's address on its tenant network; {@code mac} is derived by the runtime when absent. */
public record NetworkSpec(String ip, int prefix, String gateway, Optional<String> mac, int netId) {
    public NetworkSpec {
        Objects.requireNonNull(ip, "ip");
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(mac, "mac");
        if (prefix < 0 || prefix > 32) {
            throw io.mvm.model.MvmException.invalid("network prefix must be 0-32, got " + prefix);
        }
    }
}
