package io.mvm.cli.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mvm.cli.DataDirOption;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Options every coordinator client command shares: where the coordinator is, how to
 * authenticate, and whether to print JSON instead of tables.
 */
public final class ClientOptions {
    private static final ObjectMapper PRETTY = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Option(names = "--coordinator-url", paramLabel = "URL",
            description = "Coordinator to talk to (default: $MVM_COORDINATOR_URL, else https://127.0.0.1:7777).")
    String coordinatorUrl;

    @Option(names = "--ca-cert", paramLabel = "FILE",
            description = "Cluster CA to trust for an https coordinator (default: $MVM_CA_CERT, else "
                    + "<data-dir>/coordinator/tls/ca.crt).")
    Path caCert;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "Read the API token from FILE (default: $MVM_TOKEN, else <data-dir>/coordinator/admin.token).")
    Path tokenFile;

    @Option(names = "--json", description = "Print the API's JSON instead of a table.")
    public boolean json;

    @Mixin
    DataDirOption dataDir;

    /** The data directory (local template store, the admin token file). */
    public Path dataDir() {
        return dataDir.resolve();
    }

    public CoordinatorClient client() {
        URI url = url();
        return new CoordinatorClient(url, token(), "https".equals(url.getScheme())
                ? java.util.Optional.of(CoordinatorClient.trusting(caFile())) : java.util.Optional.empty());
    }

    /** {@code --ca-cert}, else $MVM_CA_CERT, else the CA the coordinator keeps under the data dir. */
    Path caFile() {
        if (caCert != null) {
            return caCert;
        }
        String env = System.getenv("MVM_CA_CERT");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path file = dataDir.resolve().resolve("coordinator").resolve("tls").resolve("ca.crt");
        if (!Files.isRegularFile(file)) {
            throw MvmException.precondition("the coordinator is https and no cluster CA is known: give --ca-cert FILE or"
                    + " MVM_CA_CERT (looked for " + file + "; use --data-dir to point elsewhere)");
        }
        return file;
    }

    URI url() {
        String text = coordinatorUrl != null ? coordinatorUrl : System.getenv("MVM_COORDINATOR_URL");
        if (text == null || text.isBlank()) {
            text = "https://127.0.0.1:7777";
        }
        try {
            URI uri = URI.create(text.endsWith("/") ? text : text + "/");
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                    || uri.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
            return uri;
        } catch (IllegalArgumentException e) {
            throw MvmException.invalid("invalid coordinator URL '" + text + "': expected http://HOST:PORT");
        }
    }

    /**
     * {@code --token-file}, else MVM_TOKEN, else the admin token file the coordinator wrote under the
     * data dir. There is no {@code --token}: a token on the command line is readable by every user
     * of the host in /proc.
     */
    String token() {
        var given = io.mvm.cli.SecretInputs.fileOrEnv(tokenFile, "MVM_TOKEN", System.getenv());
        if (given.isPresent()) {
            return given.get();
        }
        Path file = dataDir.resolve().resolve("coordinator").resolve("admin.token");
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.UNAUTHENTICATED, "no token: set MVM_TOKEN, or run where the coordinator"
                    + " wrote its admin token (looked for " + file + "; use --data-dir to point elsewhere)");
        }
    }

    public static void printJson(PrintWriter out, JsonNode node) {
        try {
            out.println(PRETTY.writeValueAsString(node));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
