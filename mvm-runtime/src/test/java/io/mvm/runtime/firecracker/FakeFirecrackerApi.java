package io.mvm.runtime.firecracker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A stand-in for Firecracker's API, driven by the spec: an HTTP/1.1 server on a Unix socket that
 * checks every request against firecracker-api.yaml (path, method, body schema), records it, and
 * answers with the documented shapes (204, or InstanceInfo / FirecrackerVersion / Error bodies,
 * which are themselves checked against the spec before they are sent). It keeps just enough state
 * to answer {@code GET /} truthfully, and writes the files a snapshot would.
 *
 * <p>This proves the protocol only: no VM runs behind it.
 */
final class FakeFirecrackerApi implements AutoCloseable {
    /** One request as received; {@code violations} lists where it broke the spec (empty = valid). */
    record Request(String method, String path, JsonNode body, List<String> violations) {
        String describe() {
            return method + " " + path;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final FirecrackerSpec spec;
    private final Path socket;
    private final List<Request> log;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final List<String> responseViolations = new CopyOnWriteArrayList<>();
    private volatile String state = "Not started";
    private volatile Consumer<Request> onRequest = r -> {};
    private volatile Optional<String> failNext = Optional.empty();

    FakeFirecrackerApi(FirecrackerSpec spec, Path socket, List<Request> log) throws IOException {
        this.spec = spec;
        this.socket = socket;
        this.log = log;
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.acceptor = Thread.ofVirtual().start(this::acceptLoop);
    }

    /** Called for every valid request after it is recorded (e.g. to end the "VMM" on Ctrl+Alt+Del). */
    void onRequest(Consumer<Request> action) {
        this.onRequest = action;
    }

    /** The next request is answered 400 with this fault_message. */
    void failNext(String faultMessage) {
        this.failNext = Optional.of(faultMessage);
    }

    List<String> responseViolations() {
        return List.copyOf(responseViolations);
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel client = server.accept();
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client; InputStream in = Channels.newInputStream(client); OutputStream out = Channels.newOutputStream(client)) {
            while (true) {
                Optional<String> head = readHead(in);
                if (head.isEmpty()) {
                    return;
                }
                String[] lines = head.get().split("\r\n");
                String[] requestLine = lines[0].split(" ");
                int length = 0;
                List<String> headerViolations = new ArrayList<>();
                if (requestLine.length != 3 || !requestLine[2].equals("HTTP/1.1")) {
                    headerViolations.add("malformed request line '" + lines[0] + "'");
                }
                for (int i = 1; i < lines.length; i++) {
                    String[] header = lines[i].split(":", 2);
                    String name = header[0].strip().toLowerCase(Locale.ROOT);
                    String value = header.length == 2 ? header[1].strip() : "";
                    // Firecracker's micro_http refuses these headers unless they carry these values.
                    switch (name) {
                        case "content-length" -> length = Integer.parseInt(value);
                        case "content-type", "accept" -> {
                            if (!value.equals("application/json") && !value.equals("text/plain")) {
                                headerViolations.add(name + ": " + value + " is not accepted by Firecracker");
                            }
                        }
                        case "transfer-encoding" -> headerViolations.add("Firecracker does not accept Transfer-Encoding " + value);
                        case "expect" -> headerViolations.add("Expect is not used by this client");
                        default -> {
                            // custom headers (Host, ...) are ignored by Firecracker
                        }
                    }
                }
                byte[] body = in.readNBytes(length);
                respond(out, handle(requestLine[0], requestLine[1], body, headerViolations));
            }
        } catch (IOException e) {
            // client went away
        }
    }

    private static Optional<String> readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return Optional.empty();
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        return Optional.of(text.substring(0, text.length() - 4));
    }

    private record Answer(int status, JsonNode body) {}

    private Answer handle(String method, String path, byte[] rawBody, List<String> headerViolations) {
        List<String> violations = new ArrayList<>(headerViolations);
        JsonNode body = null;
        Optional<FirecrackerSpec.Operation> operation = spec.operation(method, path);
        if (operation.isEmpty()) {
            violations.add(method + " " + path + " is not in the API");
        } else {
            Optional<JsonNode> schema = operation.get().bodySchema();
            if (rawBody.length > 0) {
                try {
                    body = JSON.readTree(rawBody);
                } catch (IOException e) {
                    violations.add("body is not JSON: " + e.getMessage());
                }
                if (body != null && schema.isPresent()) {
                    violations.addAll(spec.validate(body, schema.get()));
                } else if (body != null) {
                    violations.add("the operation takes no body");
                }
            } else if (operation.get().bodyRequired()) {
                violations.add("the operation requires a body");
            }
        }
        Request request = new Request(method, path, body, List.copyOf(violations));
        log.add(request);
        if (!violations.isEmpty()) {
            return checked(operation, 400, fault(String.join("; ", violations)));
        }
        Optional<String> failure = failNext;
        if (failure.isPresent()) {
            failNext = Optional.empty();
            return checked(operation, 400, fault(failure.get()));
        }
        Answer answer = apply(request);
        onRequest.accept(request);
        return checked(operation, answer.status(), answer.body());
    }

    /** The few effects a real Firecracker has that callers can observe. */
    private Answer apply(Request request) {
        switch (request.describe()) {
            case "GET /" -> {
                ObjectNode info = JSON.createObjectNode();
                info.put("app_name", "Firecracker");
                info.put("id", "fake");
                info.put("state", state);
                info.put("vmm_version", "1.17.0-dev");
                return new Answer(200, info);
            }
            case "GET /version" -> {
                return new Answer(200, JSON.createObjectNode().put("firecracker_version", "1.17.0-dev"));
            }
            case "PUT /actions" -> {
                if ("InstanceStart".equals(request.body().path("action_type").asText())) {
                    if (!state.equals("Not started")) {
                        return new Answer(400, fault("The requested operation is not supported after starting the microVM."));
                    }
                    state = "Running";
                }
            }
            case "PATCH /vm" -> state = request.body().path("state").asText().equals("Paused") ? "Paused" : "Running";
            case "PUT /snapshot/create" -> {
                if (!state.equals("Paused")) {
                    return new Answer(400, fault("Cannot create a snapshot of a running microVM: pause it first."));
                }
                writeFile(request.body().path("snapshot_path").asText(), "vmstate");
                writeFile(request.body().path("mem_file_path").asText(), "memory");
            }
            case "PUT /snapshot/load" -> {
                if (!state.equals("Not started")) {
                    return new Answer(400, fault("Loading a microVM snapshot not allowed after configuring boot-specific resources."));
                }
                if (!Files.isRegularFile(Path.of(request.body().path("snapshot_path").asText()))
                        || !Files.isRegularFile(Path.of(request.body().path("mem_backend").path("backend_path").asText()))) {
                    return new Answer(400, fault("snapshot or memory file does not exist"));
                }
                state = request.body().path("resume_vm").asBoolean(false) ? "Running" : "Paused";
            }
            default -> {
                if (request.method().equals("PUT") && !state.equals("Not started") && !request.path().startsWith("/actions")) {
                    return new Answer(400, fault("The requested operation is not supported after starting the microVM."));
                }
            }
        }
        return new Answer(204, null);
    }

    private static void writeFile(String path, String content) {
        try {
            Files.writeString(Path.of(path), content);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode fault(String message) {
        return JSON.createObjectNode().put("fault_message", message);
    }

    /** The fake must only answer what the spec documents for the operation. */
    private Answer checked(Optional<FirecrackerSpec.Operation> operation, int status, JsonNode body) {
        operation.ifPresent(op -> {
            if (status != 400 && !op.documentsStatus(status)) {
                responseViolations.add(op.method() + " " + op.template() + " does not document status " + status);
            }
            op.response(status).ifPresent(response -> {
                JsonNode schema = response.path("schema");
                if (!schema.isMissingNode() && body != null) {
                    spec.validate(body, schema).forEach(v -> responseViolations.add(op.method() + " " + op.template() + " " + status + " " + v));
                }
            });
        });
        return new Answer(status, body);
    }

    private static void respond(OutputStream out, Answer answer) throws IOException {
        byte[] body = answer.body() == null ? new byte[0] : JSON.writeValueAsBytes(answer.body());
        String reason = switch (answer.status()) {
            case 200 -> "OK";
            case 204 -> "No Content";
            default -> "Bad Request";
        };
        StringBuilder head = new StringBuilder("HTTP/1.1 ").append(answer.status()).append(' ').append(reason).append("\r\n")
                .append("Server: Firecracker API\r\n");
        if (body.length > 0) {
            head.append("Content-Type: application/json\r\n");
        }
        head.append("Content-Length: ").append(body.length).append("\r\n\r\n");
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(socket);
    }
}
