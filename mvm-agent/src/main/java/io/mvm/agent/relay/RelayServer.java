package io.mvm.agent.relay;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.runtime.guest.GuestChannel;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's own small HTTP server, through which the coordinator reaches into instances:
 * {@code POST /v1/instances/{id}/exec} (with {@code Accept: application/x-ndjson} the output streams
 * as it is produced, see {@link ExecStreamWriter}), {@code GET /v1/instances/{id}/logs?lines=N},
 * {@code GET /v1/instances/{id}/workload} and {@code POST /v1/instances/{id}/claim} (a warm VM
 * handed to a tenant, body: the desired instance). Served by Javalin on virtual threads, like the
 * coordinator's API. Every request must carry the agent token as a bearer token. Handlers only
 * translate: parse, call {@link GuestAccess}, and map the error category to a status in
 * {@link #status(ErrorCategory)}.
 */
public final class RelayServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RelayServer.class);
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

    private final GuestAccess guests;
    private final AgentToken token;
    private Javalin app;
    private boolean tls;

    private RelayServer(GuestAccess guests, AgentToken token) {
        this.guests = guests;
        this.token = token;
    }

    /** Binds {@code listen} (port 0: any free port) and starts serving. */
    public static RelayServer start(InetSocketAddress listen, GuestAccess guests, AgentToken token) {
        return start(listen, guests, token, java.util.Optional.empty());
    }

    /**
     * With {@code tls}: HTTPS only, and a caller must present a certificate the context's trust
     * accepts (the coordinator's) before any request is read; the bearer token is checked as well.
     */
    public static RelayServer start(InetSocketAddress listen, GuestAccess guests, AgentToken token,
                                    java.util.Optional<javax.net.ssl.SSLContext> tls) {
        var relay = new RelayServer(guests, token);
        relay.tls = tls.isPresent();
        relay.app = Javalin.create(config -> {
            tls.ifPresent(ctx -> config.jetty.addConnector((server, http) -> {
                var ssl = new org.eclipse.jetty.util.ssl.SslContextFactory.Server();
                ssl.setSslContext(ctx);
                ssl.setSniRequired(false);
                ssl.setNeedClientAuth(true);
                var https = new org.eclipse.jetty.server.HttpConfiguration(http);
                var customizer = new org.eclipse.jetty.server.SecureRequestCustomizer();
                customizer.setSniHostCheck(false);
                https.addCustomizer(customizer);
                var connector = new org.eclipse.jetty.server.ServerConnector(server,
                        new org.eclipse.jetty.server.SslConnectionFactory(ssl, "http/1.1"),
                        new org.eclipse.jetty.server.HttpConnectionFactory(https));
                connector.setHost(listen.getHostString());
                connector.setPort(listen.getPort());
                return connector;
            }));
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            config.http.maxRequestSize = MAX_BODY;
            config.http.prefer405over404 = true;
            relay.routes(config.routes);
        });
        try {
            if (relay.tls) {
                relay.app.start();
            } else {
                relay.app.start(listen.getHostString(), listen.getPort());
            }
        } catch (RuntimeException e) {
            throw MvmException.precondition("cannot listen on " + listen + ": " + e.getMessage());
        }
        return relay;
    }

    public int port() {
        return app.port();
    }

    /** The URL the coordinator should use: loopback stays loopback, a wildcard bind names this host's loopback. */
    public URI url() {
        String host = listenHost();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create((tls ? "https://" : "http://") + host + ":" + port());
    }

    private String listenHost() {
        var connectors = app.jettyServer().server().getConnectors();
        String host = connectors.length > 0 && connectors[0] instanceof org.eclipse.jetty.server.ServerConnector c
                ? c.getHost() : null;
        return host == null || host.equals("0.0.0.0") || host.equals("::") ? "127.0.0.1" : host;
    }

    @Override
    public void close() {
        app.stop();
    }

    private void routes(RoutesConfig r) {
        r.before(this::authenticate);
        r.post("/v1/instances/{id}/exec", this::exec);
        r.get("/v1/instances/{id}/logs", this::logs);
        r.get("/v1/instances/{id}/workload", ctx -> {
            var status = guests.workload(id(ctx));
            send(ctx, 200, JSON.writeValueAsBytes(new WorkloadResponse(status.state(), status.exitCode())));
        });
        r.post("/v1/instances/{id}/claim", this::claim);
        r.exception(MvmException.class, (e, ctx) -> problem(ctx, status(e.category()), e.getMessage()));
        r.exception(JacksonException.class, (e, ctx) -> problem(ctx, 400, "unreadable request: "
                + e.getOriginalMessage()));
        r.exception(Exception.class, (e, ctx) -> {
            log.warn("relay request {} {} failed", ctx.method(), ctx.path(), e);
            problem(ctx, 500, "internal error: " + e.getClass().getSimpleName());
        });
        r.error(404, ctx -> {
            if (!isProblem(ctx)) {
                problem(ctx, 404, "no route " + ctx.method() + " " + ctx.path());
            }
        });
        r.error(405, ctx -> {
            if (!isProblem(ctx)) {
                problem(ctx, 405, "method " + ctx.method() + " is not allowed on " + ctx.path());
            }
        });
        r.error(413, ctx -> {
            if (!isProblem(ctx)) {
                problem(ctx, 413, "request body is larger than " + MAX_BODY + " bytes");
            }
        });
    }

    private void authenticate(Context ctx) {
        String auth = ctx.header("Authorization");
        if (auth == null || !auth.startsWith("Bearer ") || !token.matches(auth.substring("Bearer ".length()).strip())) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "a valid agent token is required");
        }
    }

    private static InstanceId id(Context ctx) {
        return InstanceId.of(ctx.pathParam("id"));
    }

    private void exec(Context ctx) throws Exception {
        InstanceId id = id(ctx);
        var body = JSON.readValue(ctx.bodyAsBytes(), ExecBody.class);
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
        var request = new GuestChannel.ExecRequest(body.argv(), env, stdin, Duration.ofSeconds(timeout));
        if (ExecStreamWriter.wanted(ctx)) {
            var stream = new ExecStreamWriter(ctx, JSON);
            try {
                stream.finish(guests.exec(id, request, stream));
            } catch (MvmException e) {
                if (!stream.started()) {
                    throw e;
                }
                stream.fail(status(e.category()), e.getMessage());
            }
            return;
        }
        var result = guests.exec(id, request);
        var b64 = Base64.getEncoder();
        send(ctx, 200, JSON.writeValueAsBytes(new ExecResponse(result.exitCode(), b64.encodeToString(result.stdout()),
                b64.encodeToString(result.stderr()), result.timedOut(), result.truncated())));
    }

    private void logs(Context ctx) {
        InstanceId id = id(ctx);
        int lines = 100;
        String asked = ctx.queryParam("lines");
        if (asked != null) {
            try {
                lines = Integer.parseInt(asked);
            } catch (NumberFormatException e) {
                throw MvmException.invalid("lines must be a number, got '" + asked + "'");
            }
        }
        // Clamped rather than refused: a relaying coordinator may pass its own bounds through.
        lines = Math.max(1, Math.min(lines, 10_000));
        ctx.status(200).contentType("text/plain; charset=utf-8")
                .result(guests.consoleTail(id, lines).getBytes(StandardCharsets.UTF_8));
    }

    /** A warm VM standing by becomes the instance in the body (the desired-state wire shape). */
    private void claim(Context ctx) throws Exception {
        InstanceId id = id(ctx);
        var spec = io.mvm.agent.coordinator.HttpCoordinatorClient.parseInstance(JSON, ctx.bodyAsBytes());
        if (!spec.id().equals(id)) {
            throw MvmException.invalid("the body names instance " + spec.id() + ", the path " + id);
        }
        var report = guests.claim(spec);
        send(ctx, 200, JSON.writeValueAsBytes(new ClaimResponse(report.alreadyClaimed(), report.phaseMillis(),
                report.generation())));
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

    private static boolean isProblem(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith("application/problem+json");
    }

    private static void problem(Context ctx, int status, String detail) {
        var title = switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 409 -> "Conflict";
            case 413 -> "Content Too Large";
            case 503 -> "Service Unavailable";
            default -> "Internal Server Error";
        };
        try {
            ctx.status(status).contentType("application/problem+json")
                    .result(JSON.writeValueAsBytes(new Problem("about:blank", title, status, detail)));
        } catch (JacksonException e) {
            ctx.status(status).result(detail);
        }
    }

    private static void send(Context ctx, int status, byte[] body) {
        ctx.status(status).contentType("application/json").result(body);
    }
}
