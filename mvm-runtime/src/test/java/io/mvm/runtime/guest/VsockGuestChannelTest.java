package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.guest.AgentRequest.AgentField;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The host side of the vsock channel against a scripted stand-in for Firecracker's vsock proxy on
 * a real Unix socket: the CONNECT/OK handshake, a guest port nobody listens on yet (the proxy
 * closes the connection), a refusal, and the agent protocol after the handshake. No VM: the
 * guest side of vsock is not proven here.
 */
class VsockGuestChannelTest {
    private ScriptedSocketServer proxy;
    private Path socketPath;
    private final List<String> handshakes = new CopyOnWriteArrayList<>();
    private final List<String> agentLines = new CopyOnWriteArrayList<>();

    /** What the proxy does with connection number n: answer the CONNECT with this, or close when null. */
    interface Proxy {
        String reply(int connection);
    }

    @BeforeEach
    void setUp() throws IOException {
        proxy = new ScriptedSocketServer("mvm-vsock-test-", "vsock.sock");
        socketPath = proxy.socket();
    }

    @AfterEach
    void tearDown() throws Exception {
        proxy.close();
    }

    private void serve(Proxy script) throws IOException {
        proxy.serve((n, in, out) -> {
            handshakes.add(in.readLine());
            String reply = script.reply(n);
            if (reply == null) {
                return; // nothing listens on that guest port: Firecracker closes
            }
            out.write(reply.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    continue;
                }
                agentLines.add(line);
                long id = Long.parseLong(line.split(" ")[2]);
                out.write(AgentProtocol.encodeAnswer(1, id, true, List.of(AgentField.text("hostname", "fc-1"),
                        AgentField.text("uptime", "1.50"), AgentField.text("kernel", "6.12"))).getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        });
    }

    @Test
    void handshakeThenAgentProtocol() throws IOException {
        serve(n -> "OK 1073741824\n");
        try (VsockGuestChannel channel = VsockGuestChannel.connect(socketPath, VsockGuestChannel.AGENT_PORT)) {
            GuestChannel.Health health = channel.health(Duration.ofSeconds(10));
            assertThat(health.hostname()).isEqualTo("fc-1");
            assertThat(health.uptimeSeconds()).isEqualTo(1.5);
        }
        assertThat(handshakes).containsExactly("CONNECT 1024");
        assertThat(agentLines).singleElement().satisfies(line -> assertThat(line).contains(" health"));
    }

    @Test
    void retriesWhileTheGuestPortIsNotListeningYet() throws IOException {
        serve(n -> n <= 3 ? null : "OK 1073741825\n");
        try (VsockGuestChannel channel = VsockGuestChannel.connect(socketPath, 52)) {
            assertThat(channel.health(Duration.ofSeconds(20)).hostname()).isEqualTo("fc-1");
        }
        assertThat(handshakes).hasSize(4).allMatch("CONNECT 52"::equals);
    }

    @Test
    void aProxyThatNeverSaysOkEndsInAClearError() throws IOException {
        serve(n -> "NO\n");
        try (VsockGuestChannel channel = VsockGuestChannel.connect(socketPath, 1024)) {
            assertThatThrownBy(() -> channel.health(Duration.ofMillis(800)))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("did not answer health");
        }
        assertThat(agentLines).isEmpty();
    }

    @Test
    void negativePortsAreRejected() {
        assertThatThrownBy(() -> VsockGuestChannel.connect(socketPath, -1)).hasMessageContaining("must not be negative");
    }
}
