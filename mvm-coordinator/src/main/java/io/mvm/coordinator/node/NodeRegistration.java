package io.mvm.coordinator.node;

import io.mvm.core.placement.Capacity;
import io.mvm.model.Accelerator;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.net.URI;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A validated registration. {@code agentToken}, which agents once sent for their relay, is no
 * longer kept: the coordinator derives each node's relay token (ControlChannel.relayToken) and
 * hands it over in the registration's answer, so the database never holds a relay secret.
 * {@code underlay} is the IPv4 address the node's VXLAN tunnels use (absent: its tenant networks
 * do not extend to other nodes).
 */
public record NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator,
                               Optional<URI> agentUrl, Optional<String> agentToken, Optional<String> underlay) {
    public NodeRegistration(NodeId node, Capacity capacity, Map<String, String> labels, Accelerator accelerator,
                            Optional<URI> agentUrl, Optional<String> agentToken) {
        this(node, capacity, labels, accelerator, agentUrl, agentToken, Optional.empty());
    }

    public NodeRegistration {
        Objects.requireNonNull(underlay, "underlay");
        // Checked and normalised here (4xx on a bad one), so the store only ever holds A.B.C.D.
        underlay = underlay.map(a -> io.mvm.core.netpolicy.Ipv4Address.parse(a).toString());
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(capacity, "capacity");
        labels = Map.copyOf(labels);
        labels.forEach((k, v) -> {
            if (k.isEmpty() || k.contains("=") || k.contains("\n") || v.contains("\n")) {
                throw MvmException.invalid("invalid label '" + k + "': keys must be non-empty without '=' or newlines,"
                        + " values without newlines");
            }
        });
        agentUrl.ifPresent(u -> {
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw MvmException.invalid("agent_url must be an http(s) URL such as http://127.0.0.1:7781, got '" + u + "'");
            }
        });
        agentToken.ifPresent(t -> {
            if (t.length() < 22 || t.length() > 512 || t.chars().anyMatch(c -> c <= ' ' || c > '~')) {
                throw MvmException.invalid("agent_token must be 22-512 printable characters (at least 128 random bits)");
            }
        });
    }

    @Override
    public String toString() {
        return "NodeRegistration[node=" + node + ", capacity=" + capacity + ", agentUrl=" + agentUrl + ", underlay="
                + underlay + "]";
    }
}
