package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP client against the spec-checking fake API on a real Unix socket (protocol proof, no VM). */
class FirecrackerApiClientTest {
    private static final FirecrackerSpec SPEC = FirecrackerSpec.load();
    private Path dir;
    private Path socket;
    private final List<FakeFirecrackerApi.Request> requests = new CopyOnWriteArrayList<>();
    private FakeFirecrackerApi fake;
    private FirecrackerApiClient client;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("mvm-fc-client-");
        socket = dir.resolve("fc.sock");
        fake = new FakeFirecrackerApi(SPEC, socket, requests);
        client = new FirecrackerApiClient(socket, Duration.ofSeconds(10));
    }

    @AfterEach
    void tearDown() throws IOException {
        if (fake != null) {
            fake.close();
        }
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    @Test
    void readsTheDocumentedAnswersOfGetCalls() {
        assertThat(client.instanceState()).isEqualTo("Not started");
        assertThat(client.version()).isEqualTo("1.17.0-dev");
        client.send(new FirecrackerCall.StartInstance());
        assertThat(client.instanceState()).isEqualTo("Running");
        assertThat(requests).allSatisfy(r -> assertThat(r.violations()).isEmpty());
        assertThat(fake.responseViolations()).isEmpty();
    }

    @Test
    void anErrorStatusBecomesAnExceptionWithStatusAndFaultMessage() {
        fake.failNext("Invalid block device path: /nope");
        assertThatThrownBy(() -> client.send(new FirecrackerCall.PutDrive(new FirecrackerCall.Drive("root", "/nope", false, true))))
                .isInstanceOfSatisfying(FirecrackerApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.faultMessage()).isEqualTo("Invalid block device path: /nope");
                    assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
                    assertThat(e.getMessage()).contains("PUT /drives/root", "HTTP 400", "Invalid block device path");
                });
    }

    @Test
    void anInvalidStateIsReportedByTheServerNotHidden() {
        assertThatThrownBy(() -> client.send(new FirecrackerCall.CreateSnapshot(
                new FirecrackerCall.SnapshotCreateParams("Full", dir.resolve("s").toString(), dir.resolve("m").toString()))))
                .isInstanceOfSatisfying(FirecrackerApiException.class, e -> assertThat(e.faultMessage()).contains("pause it first"));
    }

    @Test
    void aMissingSocketIsUnavailable() throws IOException {
        fake.close();
        fake = null;
        assertThatThrownBy(() -> client.instanceState())
                .isInstanceOfSatisfying(FirecrackerApiException.class, e -> {
                    assertThat(e.status()).isZero();
                    assertThat(e.category()).isEqualTo(ErrorCategory.UNAVAILABLE);
                });
    }

    @Test
    void aServerThatNeverAnswersTimesOut() throws Exception {
        fake.close();
        fake = null;
        try (ServerSocketChannel silent = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            silent.bind(UnixDomainSocketAddress.of(socket));
            List<SocketChannel> held = new CopyOnWriteArrayList<>();
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try {
                    held.add(silent.accept());
                } catch (IOException ignored) {
                    // closed
                }
            });
            FirecrackerApiClient impatient = new FirecrackerApiClient(socket, Duration.ofMillis(300));
            assertThatThrownBy(impatient::instanceState)
                    .isInstanceOf(FirecrackerApiException.class).hasMessageContaining("no answer to GET /");
            acceptor.join(5000);
            for (SocketChannel c : held) {
                c.close();
            }
        } finally {
            Files.deleteIfExists(socket);
        }
    }

    @Test
    void aChunkedOrGarbledAnswerIsRejected() throws Exception {
        fake.close();
        fake = null;
        try (ServerSocketChannel garbled = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            garbled.bind(UnixDomainSocketAddress.of(socket));
            Thread server = Thread.ofVirtual().start(() -> {
                try (SocketChannel c = garbled.accept()) {
                    c.read(java.nio.ByteBuffer.allocate(4096));
                    c.write(java.nio.ByteBuffer.wrap("SPDY/9 what\r\n\r\n".getBytes()));
                } catch (IOException ignored) {
                    // closed
                }
            });
            assertThatThrownBy(() -> client.instanceState()).isInstanceOf(FirecrackerApiException.class)
                    .hasMessageContaining("malformed status line");
            server.join(5000);
        } finally {
            Files.deleteIfExists(socket);
        }
    }
}
