package io.mvm.cli.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Locale;

/**
 * The CLI's view of the coordinator API: JSON in, JSON out, and every failure turned into an
 * {@link MvmException} whose message is the problem's detail, so the CLI prints one clear line.
 */
public final class CoordinatorClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http;
    private final URI base;
    private final String token;

    public CoordinatorClient(URI base, String token) {
        this(base, token, java.util.Optional.empty());
    }

    /** {@code tls}: for an https coordinator, a context that pins the cluster CA. */
    public CoordinatorClient(URI base, String token, java.util.Optional<javax.net.ssl.SSLContext> tls) {
        this.base = base;
        this.token = token;
        var builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        tls.ifPresent(builder::sslContext);
        this.http = builder.build();
    }

    /** A context that trusts the coordinator certificate the cluster CA in {@code caFile} signed. */
    public static javax.net.ssl.SSLContext trusting(java.nio.file.Path caFile) {
        return io.mvm.tls.TlsContexts.of(java.util.Optional.empty(),
                io.mvm.tls.ClusterTrust.coordinator(io.mvm.tls.CaPin.fromFile(caFile), java.time.InstantSource.system()));
    }

    public URI base() {
        return base;
    }

    public JsonNode get(String path) {
        return send("GET", path, null);
    }

    /** The API's largest page. */
    static final int MAX_PAGE = 1000;

    /**
     * Every item of a paged list, following its {@code next} cursors, but at most {@code cap}
     * items; answers {@code {"items": [...]}} like one big page would.
     */
    public JsonNode list(String path, java.util.OptionalInt cap) {
        com.fasterxml.jackson.databind.node.ArrayNode items = new ObjectMapper().createArrayNode();
        String cursor = null;
        do {
            int want = cap.isPresent() ? Math.min(MAX_PAGE, cap.getAsInt() - items.size()) : MAX_PAGE;
            String page = path + (path.contains("?") ? "&" : "?") + "limit=" + want
                    + (cursor == null ? "" : "&cursor=" + java.net.URLEncoder.encode(cursor,
                            java.nio.charset.StandardCharsets.UTF_8));
            JsonNode answer = get(page);
            answer.path("items").forEach(items::add);
            cursor = answer.path("next").isTextual() ? answer.path("next").asText() : null;
        } while (cursor != null && (cap.isEmpty() || items.size() < cap.getAsInt()));
        com.fasterxml.jackson.databind.node.ObjectNode out = new ObjectMapper().createObjectNode();
        out.set("items", items);
        return out;
    }

    public JsonNode post(String path, Object body) {
        return send("POST", path, body);
    }

    public JsonNode patch(String path, Object body) {
        return send("PATCH", path, body);
    }

    public JsonNode delete(String path) {
        return send("DELETE", path, null);
    }

    /** Streams a file as the body of a PUT (artifact uploads); the answer is JSON. */
    public JsonNode putFile(String path, java.nio.file.Path file) {
        HttpRequest.BodyPublisher content;
        try {
            content = HttpRequest.BodyPublishers.ofFile(file);
        } catch (java.io.FileNotFoundException e) {
            throw MvmException.notFound("cannot read " + file + ": " + e.getMessage());
        }
        HttpResponse<String> response = exchange(request(path, Duration.ofMinutes(30), "application/json")
                .header("Content-Type", "application/octet-stream").PUT(content).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 == 2) {
            return parse(response.body(), response.statusCode());
        }
        throw problem(response.statusCode(), response.body());
    }

    /** A POST of a body that is JSON already (a revision record as its builder wrote it). */
    public JsonNode postJson(String path, byte[] json) {
        try {
            return post(path, JSON.readTree(json));
        } catch (IOException e) {
            throw MvmException.invalid("not JSON: " + e.getMessage());
        }
    }

    /**
     * A POST whose answer is newline-delimited JSON that arrives over time (a streamed exec): each
     * line is handed to {@code eachLine} as soon as it is read. {@code timeout} bounds the wait for
     * the answer to begin, which may be as long as the call itself.
     */
    public void postLines(String path, Object body, Duration timeout, java.util.function.Consumer<JsonNode> eachLine) {
        HttpResponse<java.util.stream.Stream<String>> response = exchange(
                request(path, timeout, "application/x-ndjson, application/problem+json")
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(json(body))).build(),
                HttpResponse.BodyHandlers.ofLines());
        try (java.util.stream.Stream<String> lines = response.body()) {
            if (response.statusCode() / 100 != 2) {
                throw problem(response.statusCode(), String.join("\n", lines.limit(1000).toList()));
            }
            lines.filter(line -> !line.isBlank()).forEach(line -> eachLine.accept(parse(line, response.statusCode())));
        } catch (java.io.UncheckedIOException e) {
            throw MvmException.unavailable("the coordinator at " + base + " broke off the answer: "
                    + e.getCause().getMessage(), e);
        }
    }

    /** A GET whose answer is plain text (an instance's console log). */
    public String getText(String path) {
        HttpResponse<String> response = exchange(request(path, Duration.ofSeconds(120),
                "text/plain, application/problem+json").GET().build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 == 2) {
            return response.body();
        }
        throw problem(response.statusCode(), response.body());
    }

    /** Any method with a JSON body (PUT). */
    public JsonNode send(String method, String path, Object body) {
        String text = body == null ? null : json(body);
        HttpRequest.Builder request = request(path, Duration.ofSeconds(120), "application/json")
                .method(method, text == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(text));
        if (text != null) {
            request.header("Content-Type", "application/json");
        }
        HttpResponse<String> response = exchange(request.build(), HttpResponse.BodyHandlers.ofString());
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            if (response.body() == null || response.body().isBlank()) {
                return NullNode.getInstance();
            }
            return parse(response.body(), status);
        }
        throw problem(status, response.body());
    }

    private HttpRequest.Builder request(String path, Duration timeout, String accept) {
        return HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                .header("Authorization", "Bearer " + token).header("Accept", accept);
    }

    private static String json(Object body) {
        try {
            return JSON.writeValueAsString(body);
        } catch (IOException e) {
            throw MvmException.internal("cannot encode a request body: " + e.getMessage(), e);
        }
    }

    /** Sends one request; every way the coordinator can be out of reach is one clear UNAVAILABLE. */
    private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(request, handler);
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw MvmException.unavailable("cannot reach the coordinator at " + base
                    + " (connection refused); is 'mvm coordinator start' running? Set --coordinator-url or MVM_COORDINATOR_URL", e);
        } catch (IOException e) {
            throw MvmException.unavailable("cannot talk to the coordinator at " + base + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted", e);
        }
    }

    private JsonNode parse(String body, int status) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw MvmException.internal("the coordinator at " + base + " answered " + status + " with a body that is not JSON", e);
        }
    }

    private MvmException problem(int status, String body) {
        String detail = "the coordinator answered HTTP " + status;
        ErrorCategory category = categoryOf(status);
        try {
            JsonNode p = JSON.readTree(body);
            if (p != null && p.hasNonNull("detail")) {
                detail = p.get("detail").asText();
            }
            if (p != null && p.hasNonNull("category")) {
                category = ErrorCategory.valueOf(p.get("category").asText().toUpperCase(Locale.ROOT));
            }
        } catch (IOException | IllegalArgumentException ignored) {
            // Not a problem body (a proxy, say): the status alone has to do.
        }
        return new MvmException(category, detail);
    }

    private static ErrorCategory categoryOf(int status) {
        return switch (status) {
            case 400, 413 -> ErrorCategory.INVALID_ARGUMENT;
            case 401 -> ErrorCategory.UNAUTHENTICATED;
            case 403 -> ErrorCategory.PERMISSION_DENIED;
            case 404 -> ErrorCategory.NOT_FOUND;
            case 409 -> ErrorCategory.CONFLICT;
            case 412 -> ErrorCategory.FAILED_PRECONDITION;
            case 422 -> ErrorCategory.QUOTA_EXCEEDED;
            case 503 -> ErrorCategory.UNAVAILABLE;
            case 507 -> ErrorCategory.RESOURCE_EXHAUSTED;
            default -> ErrorCategory.INTERNAL;
        };
    }
}
