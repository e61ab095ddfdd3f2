package io.mvm.agent.proxy;

import io.mvm.model.MvmException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * The proxy's explicit limits, checked once.
 *
 * @param bindAddress    where route listeners bind (all addresses by default)
 * @param maxHeld        connections one route holds at most while its instance wakes; more are refused
 * @param holdTimeout    how long a held connection waits for the wake and the guest's port; then it is closed
 * @param connectTimeout one connection attempt to the guest (a paused guest answers no SYN)
 * @param forward        false on a node without instance networking ({@code --network none}): a
 *                       connection still wakes its instance but is then closed, since the tenant
 *                       address is not on this host and the connection would leave by the default route
 */
public record ProxySettings(InetAddress bindAddress, int maxHeld, Duration holdTimeout, Duration connectTimeout,
                            boolean forward) {
    public ProxySettings(InetAddress bindAddress, int maxHeld, Duration holdTimeout, Duration connectTimeout) {
        this(bindAddress, maxHeld, holdTimeout, connectTimeout, true);
    }

    public ProxySettings {
        Objects.requireNonNull(bindAddress, "bindAddress");
        if (maxHeld < 1) {
            throw MvmException.invalid("proxy max held connections must be at least 1, got " + maxHeld);
        }
        if (holdTimeout == null || holdTimeout.isNegative() || holdTimeout.isZero()) {
            throw MvmException.invalid("proxy hold timeout must be positive");
        }
        if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw MvmException.invalid("proxy connect timeout must be positive");
        }
    }

    /** 256 held connections per route, 30 s to wake: a sleeping TCG guest restores in a few seconds. */
    public static ProxySettings defaults() {
        try {
            return new ProxySettings(InetAddress.getByName("0.0.0.0"), 256, Duration.ofSeconds(30),
                    Duration.ofSeconds(1));
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    public ProxySettings withBindAddress(InetAddress address) {
        return new ProxySettings(address, maxHeld, holdTimeout, connectTimeout, forward);
    }

    public ProxySettings withLimits(int newMaxHeld, Duration newHoldTimeout) {
        return new ProxySettings(bindAddress, newMaxHeld, newHoldTimeout, connectTimeout, forward);
    }

    public ProxySettings withoutForwarding() {
        return new ProxySettings(bindAddress, maxHeld, holdTimeout, connectTimeout, false);
    }
}
