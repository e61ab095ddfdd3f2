package io.mvm.runtime.firecracker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * HTTP/1.1 to Firecracker's API over its Unix socket. Each call opens its own connection, sends
 * one request with a Content-Length body and reads exactly one response (Firecracker answers with
 * Content-Length, never chunked), so a half-read answer can never confuse the next call. Every
 * call has a deadline.
 */
public final class FirecrackerApiClient {
    private static final int MAX_RESPONSE_BYTES = 1 << 20;

    private final Path socket;
    private final Duration timeout;
    private final ObjectMapper json;

    public FirecrackerApiClient(Path socket, Duration timeout) {
        this(socket, timeout, new ObjectMapper());
    }

    FirecrackerApiClient(Path socket, Duration timeout, ObjectMapper json) {
        this.socket = socket;
        this.timeout = timeout;
        this.json = json;
    }

    /** A raw HTTP answer: status and body text (empty for 204). */
    public record Response(int status, String body) {}

    /** Sends the call; returns the parsed JSON answer (a missing node for 204) or throws on an error status. */
    JsonNode send(FirecrackerCall call) {
        Response response = exchange(call);
        if (response.status() / 100 != 2) {
            throw new FirecrackerApiException(call.describe(), response.status(), faultMessage(response.body()));
        }
        if (response.body().isEmpty()) {
            return json.missingNode();
        }
        try {
            return json.readTree(response.body());
        } catch (JsonProcessingException e) {
            throw new FirecrackerApiException("Firecracker answered " + call.describe() + " with malformed JSON", e);
        }
    }

    /** The instance's state as Firecracker reports it: {@code Not started}, {@code Running} or {@code Paused}. */
    public String instanceState() {
        return send(new FirecrackerCall.DescribeInstance()).path("state").asText();
    }

    public String version() {
        return send(new FirecrackerCall.GetVersion()).path("firecracker_version").asText();
    }

    private String faultMessage(String body) {
        try {
            JsonNode node = json.readTree(body);
            if (node != null && node.hasNonNull("fault_message")) {
                return node.get("fault_message").asText();
            }
        } catch (JsonProcessingException e) {
            // not JSON: report the raw text below
        }
        return body.isBlank() ? "(no fault_message)" : body.strip();
    }

    /** The request bytes for a call (also what the conformance test checks). */
    String encode(FirecrackerCall call) {
        String body = bodyJson(call).orElse(null);
        StringBuilder request = new StringBuilder()
                .append(call.method()).append(' ').append(call.path()).append(" HTTP/1.1\r\n")
                .append("Host: localhost\r\n")
                .append("Accept: application/json\r\n");
        if (body != null) {
            request.append("Content-Type: application/json\r\n")
                    .append("Content-Length: ").append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
        }
        request.append("\r\n");
        if (body != null) {
            request.append(body);
        }
        return request.toString();
    }

    Optional<String> bodyJson(FirecrackerCall call) {
        if (call.body() == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(json.writeValueAsString(call.body()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + call.describe(), e);
        }
    }

    Response exchange(FirecrackerCall call) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.configureBlocking(false);
            try (Selector selector = Selector.open()) {
                SelectionKey key = channel.register(selector, SelectionKey.OP_WRITE);
                ByteBuffer out = ByteBuffer.wrap(encode(call).getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining()) {
                    await(selector, deadline, call);
                    channel.write(out);
                }
                key.interestOps(SelectionKey.OP_READ);
                return readResponse(channel, selector, deadline, call);
            }
        } catch (IOException e) {
            throw new FirecrackerApiException("cannot reach the Firecracker API at " + socket + " for "
                    + call.describe() + ": " + e.getMessage(), e);
        }
    }

    private Response readResponse(SocketChannel channel, Selector selector, long deadline, FirecrackerCall call)
            throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
        int headerEnd = -1;
        int status = 0;
        int contentLength = 0;
        while (true) {
            byte[] bytes = received.toByteArray();
            if (headerEnd < 0) {
                headerEnd = indexOf(bytes, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                if (headerEnd >= 0) {
                    String[] lines = new String(bytes, 0, headerEnd, StandardCharsets.ISO_8859_1).split("\r\n");
                    status = parseStatus(lines[0]);
                    for (int i = 1; i < lines.length; i++) {
                        int colon = lines[i].indexOf(':');
                        if (colon <= 0) {
                            throw new IOException("malformed header line '" + lines[i] + "'");
                        }
                        String name = lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
                        String value = lines[i].substring(colon + 1).strip();
                        if (name.equals("content-length")) {
                            contentLength = Integer.parseInt(value);
                        } else if (name.equals("transfer-encoding") && !value.equalsIgnoreCase("identity")) {
                            throw new IOException("unsupported Transfer-Encoding " + value);
                        }
                    }
                    if (contentLength < 0 || contentLength > MAX_RESPONSE_BYTES) {
                        throw new IOException("response body of " + contentLength + " bytes is out of bounds");
                    }
                }
            }
            if (headerEnd >= 0 && bytes.length >= headerEnd + 4 + contentLength) {
                return new Response(status, new String(bytes, headerEnd + 4, contentLength, StandardCharsets.UTF_8));
            }
            if (bytes.length > MAX_RESPONSE_BYTES) {
                throw new IOException("response larger than " + MAX_RESPONSE_BYTES + " bytes");
            }
            buffer.clear();
            int n = channel.read(buffer);
            if (n < 0) {
                throw new IOException("connection closed before a complete response");
            }
            if (n == 0) {
                await(selector, deadline, call);
                continue;
            }
            received.write(buffer.array(), 0, n);
        }
    }

    private static int parseStatus(String statusLine) throws IOException {
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("malformed status line '" + statusLine + "'");
        }
        try {
            return Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("malformed status line '" + statusLine + "'", e);
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private void await(Selector selector, long deadline, FirecrackerCall call) throws IOException {
        long millis = (deadline - System.nanoTime()) / 1_000_000;
        if (millis <= 0 || selector.select(millis) == 0 && System.nanoTime() >= deadline) {
            throw new IOException("no answer to " + call.describe() + " within " + timeout.toMillis() + " ms");
        }
        selector.selectedKeys().clear();
    }
}
