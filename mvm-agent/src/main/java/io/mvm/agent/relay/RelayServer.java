package io.mvm.agent.relay;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.runtime.guest.GuestChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's own small HTTP server, through which the coordinator reaches into instances:
 * {@code POST /v1/instances/{id}/exec}, {@code GET /v1/instances/{id}/logs?lines=N} and
 * {@code POST /v1/instances/{id}/claim} (a warm VM handed to a tenant, body: the desired instance). Every
 * request must carry the agent token as a bearer token. Handlers only translate: parse into an
 * {@link GuestChannel.ExecRequest}, call {@link GuestAccess}, and map the error category to a
 * status in {@link #status(ErrorCategory)}.
 */
public final class RelayServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RelayServer.class);
    private static final Pattern EXEC = Pattern.compile("/v1/instances/([^/]+)/exec");
    private static final Pattern LOGS = Pattern.compile("/v1/instances/([^/]+)/logs");
    private static final Pattern CLAIM = Pattern.compile("/v1/instances/([^/]+)/claim");
    private static final Pattern WORKLOAD = Pattern.compile("/v1/instances/([^/]+)/workload");
    private static final int MAX_BODY = 4 * 1024 * 1024;
    private static final int MAX_TIMEOUT_SECS = 3600;
    private static final int DEFAULT_TIMEOUT_SECS = 30;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    record ExecBody(List<String> argv, Map<String, String> env, String stdinB64, Integer timeoutSecs) {}

    record ExecResponse(int exitCode, String stdoutB64, String stderrB64, boolean timedOut, boolean truncated) {}

    record Problem(String type, String title, int status, String detail) {}

    record WorkloadResponse(String state, Integer exitCode) {}

    record ClaimResponse(boolean alreadyClaimed, Map<String, Long> phaseMs, long generation) {}

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final GuestAccess guests;
    private final AgentToken token;

    private RelayServer(HttpServer server, GuestAccess guests, AgentToken token) {
        this.server = server;
        this.guests = guests;
        this.token = token;
    }

    /** Binds {@code listen} (port 0: any free port) and starts serving. */
    public static RelayServer start(InetSocketAddress listen, GuestAccess guests, AgentToken token) {
        HttpServer server;
        try {
            server = HttpServer.create(listen, 64);
        } catch (IOException e) {
            throw MvmException.precondition("cannot listen on " + listen + ": " + e.getMessage());
        }
        var relay = new RelayServer(server, guests, token);
        server.setExecutor(relay.executor);
        server.createContext("/", relay::handle);
        server.start();
        return relay;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The URL the coordinator should use: loopback stays loopback, a wildcard bind names this host's loopback. */
    public URI url() {
        var address = server.getAddress().getAddress();
        String host = address.isAnyLocalAddress() ? "127.0.0.1" : address.getHostAddress();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create("http://" + host + ":" + port());
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            try {
                route(exchange);
            } catch (MvmException e) {
                problem(exchange, status(e.category()), e.getMessage());
            } catch (IOException e) {
                problem(exchange, 400, "unreadable request: " + e.getMessage());
            } catch (RuntimeException e) {
                log.warn("relay request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI().getPath(), e);
                problem(exchange, 500, "internal error: " + e.getClass().getSimpleName());
            }
        }
    }

    private void route(HttpExchange exchange) throws IOException {
        String auth = exchange.getRequestHeaders().getFirst("Authorization");
        if (auth == null || !auth.startsWith("Bearer ") || !token.matches(auth.substring("Bearer ".length()).strip())) {
            exchange.getResponseHeaders().add("WWW-Authenticate", "Bearer");
            problem(exchange, 401, "a valid agent token is required");
            return;
        }
        String path = exchange.getRequestURI().getPath();
        String method = exchange.getRequestMethod();
        var exec = EXEC.matcher(path);
        var logs = LOGS.matcher(path);
        var claim = CLAIM.matcher(path);
        var workload = WORKLOAD.matcher(path);
        if (workload.matches()) {
            requireMethod(method, "GET");
            var status = guests.workload(InstanceId.of(workload.group(1)));
            send(exchange, 200, "application/json", JSON.writeValueAsBytes(new WorkloadResponse(status.state(),
                    status.exitCode())));
        } else if (claim.matches()) {
            requireMethod(method, "POST");
            claim(exchange, InstanceId.of(claim.group(1)));
        } else if (exec.matches()) {
            requireMethod(method, "POST");
            exec(exchange, InstanceId.of(exec.group(1)));
        } else if (logs.matches()) {
            requireMethod(method, "GET");
            logs(exchange, InstanceId.of(logs.group(1)));
        } else {
            problem(exchange, 404, "no route " + method + " " + path);
        }
    }

    private void exec(HttpExchange exchange, InstanceId id) throws IOException {
        var body = JSON.readValue(readBody(exchange.getRequestBody()), ExecBody.class);
        if (body == null || body.argv() == null || body.argv().isEmpty()) {
            throw MvmException.invalid("argv must name a command");
        }
        int timeout = body.timeoutSecs() == null ? DEFAULT_TIMEOUT_SECS : body.timeoutSecs();
        if (timeout < 1 || timeout > MAX_TIMEOUT_SECS) {
            throw MvmException.invalid("timeout_secs must be 1-" + MAX_TIMEOUT_SECS + ", got " + timeout);
        }
        byte[] stdin;
        try {
            stdin = body.stdinB64() == null ? new byte[0] : Base64.getDecoder().decode(body.stdinB64());
        } catch (IllegalArgumentException e) {
            throw MvmException.invalid("stdin_b64 is not valid base64");
        }
        var env = body.env() == null ? Map.<String, String>of() : new LinkedHashMap<>(body.env());
        var result = guests.exec(id, new GuestChannel.ExecRequest(body.argv(), env, stdin, Duration.ofSeconds(timeout)));
        var b64 = Base64.getEncoder();
        send(exchange, 200, "application/json", JSON.writeValueAsBytes(new ExecResponse(result.exitCode(),
                b64.encodeToString(result.stdout()), b64.encodeToString(result.stderr()), result.timedOut(),
                result.truncated())));
    }

    /** A warm VM standing by becomes the instance in the body (the desired-state wire shape). */
    private void claim(HttpExchange exchange, InstanceId id) throws IOException {
        var spec = io.mvm.agent.coordinator.HttpCoordinatorClient.parseInstance(JSON, readBody(exchange.getRequestBody()));
        if (!spec.id().equals(id)) {
            throw MvmException.invalid("the body names instance " + spec.id() + ", the path " + id);
        }
        var report = guests.claim(spec);
        send(exchange, 200, "application/json", JSON.writeValueAsBytes(new ClaimResponse(report.alreadyClaimed(),
                report.phaseMillis(), report.generation())));
    }

    private void logs(HttpExchange exchange, InstanceId id) throws IOException {
        int lines = 100;
        String query = exchange.getRequestURI().getRawQuery();
        if (query != null) {
            for (var part : query.split("&")) {
                if (part.startsWith("lines=")) {
                    try {
                        lines = Integer.parseInt(part.substring("lines=".length()));
                    } catch (NumberFormatException e) {
                        throw MvmException.invalid("lines must be a number, got '" + part.substring(6) + "'");
                    }
                }
            }
        }
        // Clamped rather than refused: a relaying coordinator may pass its own bounds through.
        lines = Math.max(1, Math.min(lines, 10_000));
        send(exchange, 200, "text/plain; charset=utf-8", guests.consoleTail(id, lines).getBytes(StandardCharsets.UTF_8));
    }

    private static void requireMethod(String actual, String expected) {
        if (!actual.equals(expected)) {
            throw new MvmException(ErrorCategory.INVALID_ARGUMENT, "use " + expected + " here, not " + actual);
        }
    }

    private static byte[] readBody(InputStream in) throws IOException {
        byte[] bytes = in.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
            throw MvmException.invalid("request body is larger than " + MAX_BODY + " bytes");
        }
        return bytes;
    }

    /** The one place where an error category becomes an HTTP status. */
    static int status(ErrorCategory category) {
        return switch (category) {
            case INVALID_ARGUMENT -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case ALREADY_EXISTS, CONFLICT, FAILED_PRECONDITION -> 409;
            case UNAVAILABLE -> 503;
            default -> 500;
        };
    }

    private static void problem(HttpExchange exchange, int status, String detail) throws IOException {
        var title = switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 409 -> "Conflict";
            case 503 -> "Service Unavailable";
            default -> "Internal Server Error";
        };
        send(exchange, status, "application/problem+json",
                JSON.writeValueAsBytes(new Problem("about:blank", title, status, detail)));
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            exchange.getResponseBody().write(body);
        }
    }
}
