package io.mvm.agent.relay;

import io.mvm.files.AtomicFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The secret the coordinator presents when it relays exec/logs to this agent: 256 random bits,
 * made fresh at every agent start, kept in {@code <dataDir>/agent/agent.token} (mode 0600) and sent
 * to the coordinator at registration. Never logged; {@link #toString()} hides it.
 */
public final class AgentToken {
    private final String value;
    /** The token the coordinator said it presents (its registration answer); replaces {@link #value} once known. */
    private volatile String fromCoordinator;

    private AgentToken(String value) {
        this.value = value;
    }

    public static AgentToken generate(SecureRandom random) {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return new AgentToken(HexFormat.of().formatHex(bytes));
    }

    /** A fresh token, written to {@code <dataDir>/agent/agent.token} before anyone can be told about it. */
    public static AgentToken createIn(Path dataDir) {
        var token = generate(new SecureRandom());
        AtomicFile.write(dataDir.resolve("agent").resolve("agent.token"),
                (token.value + "\n").getBytes(StandardCharsets.US_ASCII), PosixFilePermissions.fromString("rw-------"));
        return token;
    }

    public String value() {
        return value;
    }

    /**
     * From now on only {@code token} is accepted: coordinators derive each node's relay token and
     * keep none in their database, so the one they name at registration is the one they present.
     */
    public void acceptFromCoordinator(String token) {
        if (token != null && !token.isBlank()) {
            fromCoordinator = token;
        }
    }

    /** Constant-time comparison against a presented bearer token. */
    public boolean matches(String presented) {
        if (presented == null) {
            return false;
        }
        String expected = fromCoordinator != null ? fromCoordinator : value;
        return MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                presented.getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public String toString() {
        return "AgentToken[<hidden>]";
    }
}
