package io.mvm.coordinator.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A real loopback HTTP server standing in for a node agent's relay endpoint, so the
 * coordinator's relay can be tested without VMs: it records what arrives and answers what the
 * test told it to.
 */
public final class FakeAgent implements AutoCloseable {
    public record Received(String method, String path, String authorization, String body) {}

    public record Reply(int status, String contentType, String body) {}

    private final HttpServer server;
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private volatile Reply execReply = new Reply(200, "application/json",
            "{\"exit_code\":3,\"stdout_b64\":\"aGVsbG8K\",\"stderr_b64\":\"\",\"timed_out\":false}");
    private volatile Reply logsReply = new Reply(200, "text/plain; charset=utf-8", "line 1\nline 2\n");

    public FakeAgent() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::handle);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    public void replyToExec(Reply reply) {
        execReply = reply;
    }

    public void replyToLogs(Reply reply) {
        logsReply = reply;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String path = ex.getRequestURI().getRawPath()
                    + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery());
            received.add(new Received(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Authorization"),
                    body));
            Reply reply = path.contains("/logs") ? logsReply : execReply;
            byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", reply.contentType());
            ex.sendResponseHeaders(reply.status(), bytes.length == 0 ? -1 : bytes.length);
            if (bytes.length > 0) {
                ex.getResponseBody().write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
