package io.mvm.agent.coordinator;

import java.net.URI;
import java.util.Objects;

/**
 * Where the coordinator reaches this agent's relay server (exec, logs) and the bearer token it
 * must present there. Sent at registration; the token never appears in {@link #toString()}.
 */
public record RelayEndpoint(URI url, String token) {
    public RelayEndpoint {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(token, "token");
    }

    @Override
    public String toString() {
        return "RelayEndpoint[url=" + url + ", token=<hidden>]";
    }
}
