package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A network device as read back from the host: its kind ("bridge", "tun", "veth", ...), the bridge
 * it is enslaved to, whether it is administratively up, its MAC, its alias (mvm marks the devices it
 * owns with {@code mvm:<table>}) and its IPv4 addresses in CIDR form.
 */
public record ObservedLink(String name, String kind, Optional<String> master, boolean up, Optional<String> mac,
        Optional<String> alias, List<String> ipv4) {

    public ObservedLink {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        ipv4 = List.copyOf(ipv4);
    }
}
