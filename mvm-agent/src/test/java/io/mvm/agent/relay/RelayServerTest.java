package io.mvm.agent.relay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.runtime.guest.GuestChannel;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The relay server's translation (auth, parsing, error category → status) over a scripted guest. */
class RelayServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final AgentToken token = AgentToken.generate(new SecureRandom());
    private final AtomicReference<GuestChannel.ExecRequest> lastExec = new AtomicReference<>();
    private final AtomicReference<Integer> lastLines = new AtomicReference<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private final RelayServer server = RelayServer.start(new InetSocketAddress("127.0.0.1", 0), new GuestAccess() {
        @Override
        public GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request,
                GuestChannel.ExecOutput output) {
            lastExec.set(request);
            switch (id.value()) {
                case "missing" -> throw MvmException.notFound("instance missing is not on this node");
                case "paused" -> throw MvmException.precondition("instance paused is warm, not running");
                case "silent" -> throw MvmException.unavailable("the guest agent does not answer", null);
                case "slow" -> {
                    // The rest of the output comes only once the test has read the first chunk.
                    output.write(GuestChannel.ExecStream.STDOUT, bytes("first"));
                    boolean released = awaitRelease();
                    output.write(GuestChannel.ExecStream.STDOUT, bytes(released ? "second" : "never released"));
                }
                case "vanishing" -> {
                    output.write(GuestChannel.ExecStream.STDERR, bytes("partial"));
                    throw MvmException.unavailable("the guest agent went away", null);
                }
                default -> {
                    output.write(GuestChannel.ExecStream.STDOUT, bytes("out"));
                    output.write(GuestChannel.ExecStream.STDERR, bytes("err"));
                }
            }
            return new GuestChannel.ExecResult(3, new byte[0], new byte[0], false, id.value().equals("slow"));
        }

        @Override
        public String consoleTail(InstanceId id, int lines) {
            lastLines.set(lines);
            return "line\n";
        }

        @Override
        public GuestChannel.WorkloadStatus workload(InstanceId id) {
            return new GuestChannel.WorkloadStatus("exited", 3);
        }

        @Override
        public io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec) {
            lastClaim.set(spec);
            return new io.mvm.agent.runtime.ClaimReport(false, java.util.Map.of("identity", 7L), 2);
        }
    }, token);
    private final AtomicReference<io.mvm.core.reconcile.InstanceSpec> lastClaim = new AtomicReference<>();
    private final java.util.concurrent.CountDownLatch firstChunkRead = new java.util.concurrent.CountDownLatch(1);

    private boolean awaitRelease() {
        try {
            return firstChunkRead.await(20, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void streamedExecSendsEachChunkWhileTheCommandStillRuns() throws Exception {
        var request = HttpRequest.newBuilder(URI.create(server.url() + "/v1/instances/slow/exec"))
                .header("Authorization", "Bearer " + token.value()).header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString("{\"argv\":[\"x\"]}")).build();
        var response = http.send(request, HttpResponse.BodyHandlers.ofLines());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).contains("application/x-ndjson");
        var lines = response.body().iterator();
        // Read before the command may go on: a relay that buffered would block here until the fake gave up.
        var first = JSON.readTree(lines.next());
        firstChunkRead.countDown();
        assertThat(first.get("stream").asText()).isEqualTo("stdout");
        assertThat(new String(Base64.getDecoder().decode(first.get("data_b64").asText()))).isEqualTo("first");
        var second = JSON.readTree(lines.next());
        assertThat(new String(Base64.getDecoder().decode(second.get("data_b64").asText()))).isEqualTo("second");
        var last = JSON.readTree(lines.next());
        assertThat(last.get("exit_code").asInt()).isEqualTo(3);
        assertThat(last.get("timed_out").asBoolean()).isFalse();
        assertThat(last.get("truncated").asBoolean()).isTrue();
        assertThat(lines.hasNext()).isFalse();
    }

    @Test
    void aStreamedExecFailingBeforeOutputIsAProblemAfterOutputAnErrorLine() throws Exception {
        var before = HttpRequest.newBuilder(URI.create(server.url() + "/v1/instances/missing/exec"))
                .header("Authorization", "Bearer " + token.value()).header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString("{\"argv\":[\"x\"]}")).build();
        var refused = http.send(before, HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(404);
        assertThat(refused.headers().firstValue("Content-Type")).contains("application/problem+json");

        var after = HttpRequest.newBuilder(URI.create(server.url() + "/v1/instances/vanishing/exec"))
                .header("Authorization", "Bearer " + token.value()).header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString("{\"argv\":[\"x\"]}")).build();
        var lines = http.send(after, HttpResponse.BodyHandlers.ofLines()).body().toList();
        assertThat(lines).hasSize(2);
        assertThat(JSON.readTree(lines.get(0)).get("stream").asText()).isEqualTo("stderr");
        var error = JSON.readTree(lines.get(1)).get("error");
        assertThat(error.get("status").asInt()).isEqualTo(503);
        assertThat(error.get("detail").asText()).contains("went away");
    }

    private static final String CLAIM_BODY = """
            {"id":"i-1","tenant":"acme","pool":"vm-j1","role":"worker","desired_state":"running","vcpus":1,
             "memory_mib":256,"data_disk_mib":0,"ip":"10.240.0.5","prefix":24,"gateway":"10.240.0.1","mac":null,
             "net_id":1,"cmd":["sleep","1"],"env":{"A":"b"},"secrets":{"k":"v"},"config_files":{},"revision":"1"}""";

    @Test
    void aClaimCarriesTheWholeInstanceAndAnswersWhereTheTimeWent() throws Exception {
        var response = send("POST", "/v1/instances/i-1/claim", CLAIM_BODY, token.value());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("\"phase_ms\":{\"identity\":7}").contains("\"generation\":2");
        assertThat(lastClaim.get().tenant().value()).isEqualTo("acme");
        assertThat(lastClaim.get().secrets()).containsEntry("k", "v");
        assertThat(lastClaim.get().cmd()).containsExactly("sleep", "1");
    }

    @Test
    void theWorkloadsStateIsReadable() throws Exception {
        var response = send("GET", "/v1/instances/i-1/workload", null, token.value());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("{\"state\":\"exited\",\"exit_code\":3}");
    }

    @Test
    void aClaimForAnotherInstanceOrWithoutAValidBodyIsRefused() throws Exception {
        assertThat(send("POST", "/v1/instances/i-2/claim", CLAIM_BODY, token.value()).statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/i-1/claim", "{\"id\":", token.value()).statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/i-1/claim", CLAIM_BODY, token.value() + "x").statusCode()).isEqualTo(401);
        assertThat(lastClaim.get()).isNull();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> send(String method, String path, String body, String bearer) throws Exception {
        var b = HttpRequest.newBuilder(URI.create(server.url() + path));
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void execTranslatesTheBodyAndEncodesTheResult() throws Exception {
        var stdin = Base64.getEncoder().encodeToString("input".getBytes(StandardCharsets.UTF_8));
        var resp = send("POST", "/v1/instances/w-1/exec",
                "{\"argv\":[\"cat\"],\"env\":{\"A\":\"1\"},\"stdin_b64\":\"" + stdin + "\",\"timeout_secs\":7}",
                token.value());

        assertThat(resp.statusCode()).isEqualTo(200);
        var body = JSON.readTree(resp.body());
        assertThat(body.get("exit_code").asInt()).isEqualTo(3);
        assertThat(new String(Base64.getDecoder().decode(body.get("stdout_b64").asText()))).isEqualTo("out");
        assertThat(new String(Base64.getDecoder().decode(body.get("stderr_b64").asText()))).isEqualTo("err");
        assertThat(body.get("timed_out").asBoolean()).isFalse();
        assertThat(lastExec.get().argv()).containsExactly("cat");
        assertThat(lastExec.get().env()).containsEntry("A", "1");
        assertThat(new String(lastExec.get().stdin())).isEqualTo("input");
        assertThat(lastExec.get().timeout()).hasSeconds(7);
    }

    @Test
    void withoutTheAgentTokenNothingRuns() throws Exception {
        assertThat(send("POST", "/v1/instances/w-1/exec", "{\"argv\":[\"true\"]}", null).statusCode()).isEqualTo(401);
        var wrong = send("POST", "/v1/instances/w-1/exec", "{\"argv\":[\"true\"]}", token.value() + "x");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("Content-Type")).contains("application/problem+json");
        assertThat(send("GET", "/v1/instances/w-1/logs", null, "").statusCode()).isEqualTo(401);
        assertThat(lastExec.get()).isNull();
    }

    @Test
    void errorCategoriesBecomeTheAgreedStatuses() throws Exception {
        assertThat(send("POST", "/v1/instances/missing/exec", "{\"argv\":[\"true\"]}", token.value()).statusCode())
                .isEqualTo(404);
        assertThat(send("POST", "/v1/instances/paused/exec", "{\"argv\":[\"true\"]}", token.value()).statusCode())
                .isEqualTo(409);
        var silent = send("POST", "/v1/instances/silent/exec", "{\"argv\":[\"true\"]}", token.value());
        assertThat(silent.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(silent.body()).get("detail").asText()).contains("does not answer");
    }

    @Test
    void badInputIsRefusedBeforeTheGuestIsAsked() throws Exception {
        assertThat(send("POST", "/v1/instances/w-1/exec", "{\"argv\":[]}", token.value()).statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/w-1/exec", "{\"argv\":[\"true\"],\"timeout_secs\":0}", token.value())
                .statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/w-1/exec", "{\"argv\":[\"true\"],\"stdin_b64\":\"***\"}", token.value())
                .statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/w-1/exec", "not json", token.value()).statusCode()).isEqualTo(400);
        assertThat(send("POST", "/v1/instances/Bad_Id/exec", "{\"argv\":[\"true\"]}", token.value()).statusCode())
                .isEqualTo(400);
        assertThat(send("GET", "/v1/instances/w-1/exec", null, token.value()).statusCode()).isEqualTo(405);
        assertThat(send("GET", "/v1/elsewhere", null, token.value()).statusCode()).isEqualTo(404);
        assertThat(lastExec.get()).isNull();
    }

    @Test
    void logsAreTheConsoleTailWithLinesClamped() throws Exception {
        var resp = send("GET", "/v1/instances/w-1/logs?lines=20", null, token.value());
        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.body()).isEqualTo("line\n");
        assertThat(resp.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        assertThat(lastLines.get()).isEqualTo(20);
        send("GET", "/v1/instances/w-1/logs?lines=999999", null, token.value());
        assertThat(lastLines.get()).isEqualTo(10_000);
        assertThat(send("GET", "/v1/instances/w-1/logs?lines=x", null, token.value()).statusCode()).isEqualTo(400);
    }

    @Test
    void theTokenNeverShowsInToString() {
        assertThat(token.toString()).doesNotContain(token.value());
        assertThat(token.value()).hasSize(64);
    }
}
