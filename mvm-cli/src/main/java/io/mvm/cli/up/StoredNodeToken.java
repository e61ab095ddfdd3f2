package io.mvm.cli.up;

import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node token {@code mvm up} gives its own agent, kept 0600 in {@code <data-dir>/agent/node.token}
 * (where {@code mvm agent serve} also looks). Node tokens do not expire, so minting one per start
 * would pile up valid credentials; instead the stored one is reused while the coordinator still
 * accepts it ({@code GET /v1/nodes/{node}}: 200 or 404 mean authenticated, 401/403 mean not).
 */
final class StoredNodeToken {
    private static final Logger log = LoggerFactory.getLogger(StoredNodeToken.class);
    private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(10);

    private StoredNodeToken() {}

    static Path fileIn(Path dataDir) {
        return dataDir.resolve("agent").resolve("node.token");
    }

    /** The stored token if the coordinator at {@code coordinator} accepts it for {@code node}, else a new one (stored). */
    static String reuseOrIssue(Path file, URI coordinator, NodeId node, Supplier<String> issue) {
        return reuseOrIssue(file, node, (n, t) -> accepted(coordinator, n, t), issue);
    }

    /** As above, with the coordinator's own check ({@code mvm up} runs it in-process; over TLS a node token only enrols). */
    static String reuseOrIssue(Path file, NodeId node, java.util.function.BiPredicate<NodeId, String> accepted,
                               Supplier<String> issue) {
        var stored = read(file);
        if (stored.isPresent() && accepted.test(node, stored.get())) {
            return stored.get();
        }
        var fresh = issue.get();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw MvmException.internal("cannot create " + file.getParent() + ": " + e.getMessage(), e);
        }
        AtomicFile.write(file, (fresh + "\n").getBytes(StandardCharsets.UTF_8), PosixFilePermissions.fromString("rw-------"));
        return fresh;
    }

    private static Optional<String> read(Path file) {
        try {
            return Files.exists(file) ? Optional.of(Files.readString(file).strip()).filter(t -> !t.isEmpty())
                    : Optional.empty();
        } catch (IOException e) {
            log.warn("cannot read {} ({}); issuing a new node token", file, e.getMessage());
            return Optional.empty();
        }
    }

    private static boolean accepted(URI coordinator, NodeId node, String token) {
        var uri = URI.create(coordinator.toString().replaceAll("/+$", "") + "/v1/nodes/" + node);
        try (var http = HttpClient.newBuilder().connectTimeout(CHECK_TIMEOUT).build()) {
            var response = http.send(HttpRequest.newBuilder(uri).timeout(CHECK_TIMEOUT)
                    .header("Authorization", "Bearer " + token).GET().build(), HttpResponse.BodyHandlers.discarding());
            return response.statusCode() == 200 || response.statusCode() == 404;
        } catch (IOException e) {
            log.warn("cannot check the stored node token with {} ({}); issuing a new one", uri, e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while checking the node token", e);
        }
    }
}
