package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.guest.AgentRequest.AgentField;
import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The host side against a scripted agent on a real Unix socket: framing, ids, reconnects and
 * deadlines, without a VM (the guest side is covered by GuestAgentIT on a real microvm).
 */
class VirtioSerialGuestChannelTest {
    private ScriptedSocketServer agent;
    private Path socketPath;
    private final List<String> received = new CopyOnWriteArrayList<>();

    /** Answers one request line; returning null closes the connection without answering. */
    interface Script {
        String answer(int connection, String verb, long id, String requestLine, Consumer<String> answerLater) throws Exception;
    }

    @BeforeEach
    void setUp() throws IOException {
        agent = new ScriptedSocketServer("mvm-channel-test-", "agent.sock");
        socketPath = agent.socket();
    }

    @AfterEach
    void tearDown() throws Exception {
        agent.close();
    }

    private void serve(Script script) throws IOException {
        agent.serve((n, in, out) -> {
            Consumer<String> write = text -> {
                synchronized (out) {
                    try {
                        out.write(text.getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    } catch (IOException e) {
                        // the client went away
                    }
                }
            };
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    continue;
                }
                received.add(line);
                String[] words = line.split(" ");
                String answer = script.answer(n, words[3], Long.parseLong(words[2]), line, write);
                if (answer == null) {
                    break;
                }
                write.accept(answer);
            }
        });
    }

    private static String ok(long id, AgentField... fields) {
        return AgentProtocol.encodeAnswer(1, id, true, List.of(fields));
    }

    private static String health(long id) {
        return ok(id, AgentField.text("hostname", "web-1"), AgentField.text("uptime", "3.25"), AgentField.text("kernel", "6.1.0"));
    }

    @Test
    void lateAnswersAndTornLinesAreSkippedUntilTheAnswerWithTheRightId() throws IOException {
        serve((conn, verb, id, line, later) -> "stderr=AAAA .\n" + health(id - 1) + "garbage\n" + health(id));
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            GuestChannel.Health health = channel.health(Duration.ofSeconds(10));
            assertThat(health).isEqualTo(new GuestChannel.Health(1, "web-1", 3.25, "6.1.0"));
        }
    }

    @Test
    void overlappingCallsEachGetTheirOwnAnswer() throws Exception {
        java.util.concurrent.CountDownLatch healthAnswered = new java.util.concurrent.CountDownLatch(1);
        serve((conn, verb, id, line, later) -> switch (verb) {
            case "exec" -> {
                Thread.ofVirtual().start(() -> {
                    try {
                        healthAnswered.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    later.accept(ok(id, AgentField.text("exit", "0"), AgentField.text("timed-out", "false"),
                            AgentField.text("stdout", "slow")));
                });
                yield "";
            }
            case "health" -> health(id);
            default -> null;
        });
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            java.util.concurrent.CompletableFuture<GuestChannel.ExecResult> exec = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> channel.exec(ExecRequest.of(Duration.ofSeconds(30), "sleep", "1")),
                    java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
            while (received.stream().noneMatch(l -> l.contains(" exec "))) {
                Thread.sleep(10);
            }
            // The exec is still unanswered (the agent answers it only after health): health must not wait for it.
            assertThat(channel.health(Duration.ofSeconds(10)).hostname()).isEqualTo("web-1");
            assertThat(exec).isNotDone();
            healthAnswered.countDown();
            assertThat(exec.get(10, java.util.concurrent.TimeUnit.SECONDS).stdoutText()).isEqualTo("slow");
        }
    }

    @Test
    void aProtocolVersionMismatchIsReportedClearly() throws IOException {
        serve((conn, verb, id, line, later) -> AgentProtocol.encodeAnswer(2, id, true, List.of()));
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThatThrownBy(() -> channel.health(Duration.ofSeconds(10)))
                    .as("asking again cannot help: a refusal, not a retryable channel error")
                    .isInstanceOf(GuestRefusedException.class)
                    .hasMessageContaining("guest agent speaks protocol version 2 but this host speaks 1");
        }
    }

    @Test
    void anErrorAnswerBecomesARefusalWithTheGuestsMessage() throws IOException {
        serve((conn, verb, id, line, later) -> AgentProtocol.encodeAnswer(1, id, false, List.of(AgentField.text("message", "cannot unmount"))));
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThatThrownBy(() -> channel.reloadSecrets(Duration.ofSeconds(10)))
                    .isInstanceOf(GuestRefusedException.class)
                    .hasMessage("guest agent refused reload-secrets: cannot unmount");
        }
    }

    @Test
    void aSocketThatAppearsLaterIsConnectedWithinTheDeadline() throws Exception {
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            Thread late = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(300);
                    serve((conn, verb, id, line, later) -> health(id));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(channel.health(Duration.ofSeconds(10)).hostname()).isEqualTo("web-1");
            late.join();
        }
    }

    @Test
    void idempotentRequestsAreResentAfterTheVmmDroppedTheConnection() throws IOException {
        serve((conn, verb, id, line, later) -> conn == 1 ? null : ok(id, AgentField.text("state", "exited"), AgentField.text("exit", "3")));
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThat(channel.workload(Duration.ofSeconds(10))).isEqualTo(new GuestChannel.WorkloadStatus("exited", 3));
        }
        assertThat(received).hasSize(2);
    }

    @Test
    void execIsNotResentWhenTheConnectionBreaksMidRequest() throws IOException {
        serve((conn, verb, id, line, later) -> null);
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThatThrownBy(() -> channel.exec(ExecRequest.of(Duration.ofSeconds(1), "rm", "-rf", "/data/x")))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("outcome is unknown");
        }
        assertThat(received).hasSize(1);
    }

    @Test
    void aSilentAgentTimesOutWithAClearError() throws IOException {
        serve((conn, verb, id, line, later) -> {
            Thread.sleep(10_000);
            return null;
        });
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> channel.health(Duration.ofMillis(300)))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("did not answer health within 300 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void noSocketAtAllTimesOut() {
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThatThrownBy(() -> channel.health(Duration.ofMillis(200)))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("did not answer health");
        }
    }

    @Test
    void closingInterruptsACallInFlight() throws Exception {
        serve((conn, verb, id, line, later) -> {
            Thread.sleep(20_000);
            return null;
        });
        VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath);
        java.util.concurrent.CompletableFuture<Throwable> failure = new java.util.concurrent.CompletableFuture<>();
        Thread call = Thread.ofVirtual().start(() -> {
            try {
                channel.exec(ExecRequest.of(Duration.ofSeconds(60), "sleep", "60"));
                failure.complete(null);
            } catch (Throwable t) {
                failure.complete(t);
            }
        });
        while (received.isEmpty()) {
            Thread.sleep(10);
        }
        long started = System.nanoTime();
        channel.close();
        Throwable thrown = failure.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(thrown).isInstanceOf(GuestChannelException.class).hasMessageContaining("is closed");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        call.join();
    }

    @Test
    void aClosedChannelRefusesCalls() {
        VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath);
        channel.close();
        assertThatThrownBy(() -> channel.health(Duration.ofSeconds(1))).hasMessageContaining("is closed");
    }

    private static String output(long id, String stream, byte[] data) {
        return AgentProtocol.encodeAnswer(1, id, true, List.of()).replace(" ok ", " output stream="
                + java.util.Base64.getEncoder().encodeToString(stream.getBytes(StandardCharsets.US_ASCII)) + " data="
                + java.util.Base64.getEncoder().encodeToString(data) + " ");
    }

    @Test
    void streamedOutputReachesTheCallerBeforeTheCommandEnds() throws Exception {
        java.util.concurrent.CountDownLatch firstChunkSeen = new java.util.concurrent.CountDownLatch(1);
        serve((conn, verb, id, line, later) -> {
            if (!verb.equals("exec")) {
                return health(id);
            }
            assertThat(line).contains(" stream=MQ== ");
            Thread.ofVirtual().start(() -> {
                later.accept(output(id, "stdout", "one\n".getBytes(StandardCharsets.US_ASCII)));
                try {
                    // the command "goes on" only once the caller has the first chunk
                    if (!firstChunkSeen.await(20, java.util.concurrent.TimeUnit.SECONDS)) {
                        return;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                later.accept(output(id, "stderr", "warn\n".getBytes(StandardCharsets.US_ASCII)));
                later.accept(output(id, "stdout", "two\n".getBytes(StandardCharsets.US_ASCII)));
                later.accept(ok(id, AgentField.text("exit", "4"), AgentField.text("timed-out", "false"),
                        AgentField.text("truncated", "false")));
            });
            return "";
        });
        List<String> chunks = new CopyOnWriteArrayList<>();
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            GuestChannel.ExecResult result = channel.exec(ExecRequest.of(Duration.ofSeconds(30), "sh", "-c", "x"),
                    (stream, bytes) -> {
                        chunks.add(stream.wireName() + ":" + new String(bytes, StandardCharsets.US_ASCII));
                        firstChunkSeen.countDown();
                    });
            assertThat(chunks).containsExactly("stdout:one\n", "stderr:warn\n", "stdout:two\n");
            assertThat(result.exitCode()).isEqualTo(4);
            assertThat(result.stdout()).isEmpty();
            assertThat(result.truncated()).isFalse();
        }
    }

    @Test
    void aGuestSendingMoreOutputThanTheCapGetsItCutAndTheHostHoldsNoMore() throws Exception {
        serve((conn, verb, id, line, later) -> {
            if (!verb.equals("exec")) {
                return health(id);
            }
            // 5 MiB in 48 KiB lines on stdout, claiming nothing was cut: the host must cut it anyway
            byte[] chunk = new byte[48 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            StringBuilder lines = new StringBuilder();
            for (int sent = 0; sent < 5 << 20; sent += chunk.length) {
                lines.append(output(id, "stdout", chunk));
            }
            lines.append(output(id, "stderr", "e".getBytes(StandardCharsets.US_ASCII)));
            lines.append(output(id, "bogus", "?".getBytes(StandardCharsets.US_ASCII)));
            return lines + ok(id, AgentField.text("exit", "0"), AgentField.text("timed-out", "false"),
                    AgentField.text("truncated", "false"));
        });
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            GuestChannel.ExecResult result = channel.exec(ExecRequest.of(Duration.ofSeconds(30), "cat", "/dev/zero"));
            assertThat(result.stdout()).hasSize(GuestChannel.EXEC_OUTPUT_CAP);
            assertThat(result.stderrText()).isEqualTo("e");
            assertThat(result.truncated()).isTrue();
            assertThat(channel.health(Duration.ofSeconds(10)).hostname()).isEqualTo("web-1");
        }
    }

    @Test
    void aSlowConsumerOfOutputDoesNotHoldUpOtherCalls() throws Exception {
        serve((conn, verb, id, line, later) -> switch (verb) {
            case "exec" -> output(id, "stdout", "a".getBytes(StandardCharsets.US_ASCII))
                    + output(id, "stdout", "b".getBytes(StandardCharsets.US_ASCII))
                    + ok(id, AgentField.text("exit", "0"), AgentField.text("timed-out", "false"));
            default -> health(id);
        });
        java.util.concurrent.CountDownLatch healthDone = new java.util.concurrent.CountDownLatch(1);
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            var exec = java.util.concurrent.CompletableFuture.supplyAsync(() -> channel.exec(
                    ExecRequest.of(Duration.ofSeconds(30), "x"), (stream, bytes) -> {
                        try {
                            // stuck until a health call got through the same connection
                            healthDone.await(20, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }), java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
            while (received.stream().noneMatch(l -> l.contains(" exec "))) {
                Thread.sleep(10);
            }
            assertThat(channel.health(Duration.ofSeconds(10)).hostname()).isEqualTo("web-1");
            assertThat(exec).isNotDone();
            healthDone.countDown();
            assertThat(exec.get(20, java.util.concurrent.TimeUnit.SECONDS).exitCode()).isZero();
        }
    }

    @Test
    void outputLinesForACallThatAskedForNoneAreDropped() throws Exception {
        serve((conn, verb, id, line, later) -> output(id, "stdout", "x".getBytes(StandardCharsets.US_ASCII)) + health(id));
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            assertThat(channel.health(Duration.ofSeconds(10)).hostname()).isEqualTo("web-1");
        }
    }

    @Test
    void anAnswerLongerThanTheCapRefusesThatCallAndTheConnectionLivesOn() throws IOException {
        java.util.Set<Integer> connections = java.util.concurrent.ConcurrentHashMap.newKeySet();
        serve((conn, verb, id, line, later) -> {
            connections.add(conn);
            if (verb.equals("exec")) {
                // a guest answering with 6 MiB of output (8 MiB of base64) in one line
                return ok(id, AgentField.text("exit", "0"), AgentField.text("timed-out", "false"),
                        new AgentField("stdout", new byte[6 * 1024 * 1024]), new AgentField("stderr", new byte[0]));
            }
            return health(id);
        });
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> channel.exec(ExecRequest.of(Duration.ofSeconds(20), "cat", "/dev/zero")))
                    .as("a refusal of this call, not a retry, an OOM or a wait for the deadline")
                    .isInstanceOf(GuestRefusedException.class)
                    .hasMessageContaining("answer to exec")
                    .hasMessageContaining("longer than " + LineGuestChannel.MAX_LINE_BYTES + " bytes");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(15));

            assertThat(channel.health(Duration.ofSeconds(10)).hostname())
                    .as("the rest of the long line is skipped, the next answer is read").isEqualTo("web-1");
        }
        assertThat(connections).as("no reconnect was needed").containsExactly(1);
    }

    @Test
    void junkWithoutANewlineBeforeTheGuestGoesAwayEndsInAClearTimeout() throws IOException {
        serve((conn, verb, id, line, later) -> {
            later.accept("\u0000\u00ff".repeat(2048)); // 4 KB of junk, no newline, then power-off
            return null;
        });
        try (VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(socketPath)) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> channel.health(Duration.ofSeconds(1)))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("did not answer health within 1000 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
            assertThatThrownBy(() -> channel.exec(ExecRequest.of(Duration.ofSeconds(1), "true")))
                    .isInstanceOf(GuestChannelException.class)
                    .hasMessageContaining("outcome is unknown");
        }
    }
}
