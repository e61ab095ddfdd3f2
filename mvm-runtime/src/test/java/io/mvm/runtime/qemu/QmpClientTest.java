package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.model.ErrorCategory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Protocol edge cases against a scripted fake QMP server on a real UNIX socket. */
class QmpClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GREETING =
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";

    @TempDir
    Path dir;
    Path socket;
    ServerSocketChannel server;
    Thread serverThread;
    final List<String> received = new CopyOnWriteArrayList<>();

    /** Server behaviour per request: returns raw bytes to write back (may be several frames). */
    interface Script {
        String reply(JsonNode request);
    }

    @BeforeEach
    void bind() throws IOException {
        socket = dir.resolve("qmp.sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
    }

    @AfterEach
    void close() throws Exception {
        server.close();
        if (serverThread != null) {
            serverThread.interrupt();
            serverThread.join(2000);
        }
    }

    void serve(String greeting, Script script) {
        serverThread = Thread.ofVirtual().start(() -> {
            try (SocketChannel peer = server.accept()) {
                OutputStream out = Channels.newOutputStream(peer);
                out.write(greeting.getBytes(StandardCharsets.UTF_8));
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(peer), StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    received.add(line);
                    String reply = script.reply(JSON.readTree(line));
                    if (reply != null) {
                        out.write(reply.getBytes(StandardCharsets.UTF_8));
                        out.flush();
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // the client went away, or the script ended the conversation on purpose
            }
        });
    }

    static String ok(JsonNode request, String value) {
        return "{\"return\": " + value + ", \"id\": \"" + request.get("id").asText() + "\"}\r\n";
    }

    @Test
    void aMonitorWhoseBacklogIsFullTimesOutInsteadOfBlockingForever() throws Exception {
        // What a stopped QEMU's monitor becomes after a few status queries: nobody accepts, the
        // listen backlog fills up, and a plain connect() then blocks without any limit.
        Path full = dir.resolve("full.sock");
        List<SocketChannel> queued = new CopyOnWriteArrayList<>();
        try (ServerSocketChannel neverAccepts = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            neverAccepts.bind(UnixDomainSocketAddress.of(full), 1);
            for (int i = 0; i < 4; i++) {
                Thread.ofVirtual().start(() -> {
                    try {
                        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                        queued.add(c);
                        c.connect(UnixDomainSocketAddress.of(full));
                    } catch (IOException ignored) {
                        // closed by the test
                    }
                });
            }
            Thread.sleep(200);

            long started = System.nanoTime();
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () ->
                    assertThatThrownBy(() -> QmpClient.connect(full, Duration.ofMillis(300)))
                            .isInstanceOf(QmpException.class)
                            .satisfies(e -> assertThat(((QmpException) e).category()).isEqualTo(ErrorCategory.UNAVAILABLE)));
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        } finally {
            for (SocketChannel c : queued) {
                c.close();
            }
        }
    }

    @Test
    void negotiatesCapabilitiesAndMatchesRepliesById() {
        serve(GREETING, request -> switch (request.get("execute").asText()) {
            case "qmp_capabilities" -> ok(request, "{}");
            case "query-status" -> ok(request, "{\"status\": \"running\", \"running\": true}");
            default -> null;
        });
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5))) {
            assertThat(qmp.qemuVersion()).isEqualTo("7.2.22");
            JsonNode status = qmp.execute("query-status", Duration.ofSeconds(5));
            assertThat(status.get("status").asText()).isEqualTo("running");
        }
        assertThat(received.get(0)).contains("\"execute\":\"qmp_capabilities\"");
        assertThat(received.get(1)).contains("\"execute\":\"query-status\"").contains("\"id\":\"mvm-2\"");
    }

    @Test
    void deliversEventsInterleavedWithRepliesAndSplitAcrossWrites() throws Exception {
        List<QmpEvent> events = new CopyOnWriteArrayList<>();
        serve(GREETING, request -> switch (request.get("execute").asText()) {
            case "qmp_capabilities" -> ok(request, "{}");
            // An event first, then the reply; the event has no id and must not complete the command.
            case "stop" -> "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"STOP\"}\r\n"
                    + ok(request, "{}");
            default -> null;
        });
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5))) {
            qmp.addEventListener(events::add);
            qmp.execute("stop", Duration.ofSeconds(5));
            org.awaitility.Awaitility.await().atMost(5, TimeUnit.SECONDS).until(() -> !events.isEmpty());
        }
        assertThat(events).singleElement().satisfies(e -> {
            assertThat(e.name()).isEqualTo("STOP");
            assertThat(e.timestamp().getEpochSecond()).isEqualTo(1700000000L);
        });
    }

    @Test
    void mapsQemuErrorsToQmpExceptionWithClassAndDescription() {
        serve(GREETING, request -> switch (request.get("execute").asText()) {
            case "qmp_capabilities" -> ok(request, "{}");
            default -> "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}, \"id\": \""
                    + request.get("id").asText() + "\"}\r\n";
        });
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5))) {
            assertThatThrownBy(() -> qmp.execute("nope", Map.of("x", 1), Duration.ofSeconds(5)))
                    .isInstanceOfSatisfying(QmpException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("CommandNotFound");
                        assertThat(e.getMessage()).contains("nope failed: The command nope has not been found");
                        assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
                    });
        }
        assertThat(received.get(1)).contains("\"arguments\":{\"x\":1}");
    }

    @Test
    void timesOutWhenNoReplyComes() {
        serve(GREETING, request -> request.get("execute").asText().equals("qmp_capabilities") ? ok(request, "{}") : null);
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5))) {
            assertThatThrownBy(() -> qmp.execute("query-status", Duration.ofMillis(300)))
                    .isInstanceOfSatisfying(QmpException.class, e -> {
                        assertThat(e.getMessage()).contains("no reply within");
                        assertThat(e.category()).isEqualTo(ErrorCategory.UNAVAILABLE);
                        assertThat(e.errorClass()).isNull();
                    });
        }
    }

    @Test
    void failsPendingCommandsWhenTheServerCloses() {
        serve(GREETING, request -> {
            if (request.get("execute").asText().equals("qmp_capabilities")) {
                return ok(request, "{}");
            }
            throw new IllegalStateException("close"); // kills the server thread, closing the socket
        });
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(5))) {
            assertThatThrownBy(() -> qmp.execute("quit", Duration.ofSeconds(10)))
                    .isInstanceOf(QmpException.class).hasMessageContaining("closed");
        }
    }

    /** QEMU serves one monitor client at a time: a second client is accepted by the kernel and then hears nothing. */
    @Test
    @org.junit.jupiter.api.Timeout(60) // before the fix this hung forever in the reader's constructor
    void givesUpOnAPeerThatAcceptsButNeverGreets() throws Exception {
        serverThread = Thread.ofVirtual().start(() -> {
            try (SocketChannel peer = server.accept()) {
                Thread.sleep(60_000);
            } catch (IOException | InterruptedException ignored) {
                // closed by the test
            }
        });
        long started = System.nanoTime();
        assertThatThrownBy(() -> QmpClient.connect(socket, Duration.ofSeconds(1)))
                .isInstanceOf(QmpException.class).hasMessageContaining("no QMP greeting within");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
    }

    @Test
    void rejectsAPeerThatIsNotQmp() {
        serve("{\"hello\": \"world\"}\n", request -> null);
        assertThatThrownBy(() -> QmpClient.connect(socket, Duration.ofSeconds(5)))
                .isInstanceOf(QmpException.class).hasMessageContaining("not a QMP server");
    }

    @Test
    void givesUpConnectingToAMissingSocketAfterTheTimeout() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
        assertThatThrownBy(() -> QmpClient.connect(socket, Duration.ofMillis(300)))
                .isInstanceOf(QmpException.class).hasMessageContaining("cannot connect");
    }
}
