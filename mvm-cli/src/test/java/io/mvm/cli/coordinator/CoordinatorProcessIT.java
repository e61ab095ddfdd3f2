package io.mvm.cli.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mvm coordinator start} as a real process, and the CLI as real processes that find it
 * only through MVM_COORDINATOR_URL and MVM_TOKEN: the ready lines, the private token file, a
 * clean stop on SIGTERM, and data that is still there after a restart.
 */
class CoordinatorProcessIT {
    private static final Pattern LISTENING = Pattern.compile("coordinator listening on (https://127\\.0\\.0\\.1:\\d+) ");

    @TempDir
    Path tmp;

    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void stopChildren() throws InterruptedException {
        for (Process p : children) {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void startsStopsOnSigtermAndServesTheCliThroughTheEnvironment() throws Exception {
        Path data = tmp.resolve("data");
        Coordinator first = startCoordinator(data);
        Path tokenFile = data.resolve("coordinator").resolve("admin.token");
        assertThat(first.banner()).contains("admin token written to " + tokenFile + " (mode 0600)");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
        String token = Files.readString(tokenFile).strip();
        // TLS by default: a cluster CA made on first start, its key readable by its owner only.
        Path caCert = data.resolve("coordinator").resolve("tls").resolve("ca.crt");
        assertThat(first.banner()).contains("cluster CA sha256:").contains(caCert.toString());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(caCert.resolveSibling("ca.key"))))
                .isEqualTo("rw-------");

        Map<String, String> env = Map.of("MVM_COORDINATOR_URL", first.url(), "MVM_TOKEN", token,
                "MVM_CA_CERT", caCert.toString());
        Result created = cli(env, "tenant", "create", "envco", "--max-instances", "3");
        assertThat(created.exitCode()).as(created.output()).isZero();
        Result listed = cli(env, "tenant", "list", "--json");
        assertThat(listed.exitCode()).as(listed.output()).isZero();
        JsonNode tenants = new ObjectMapper().readTree(listed.output());
        assertThat(tenants.findValuesAsText("id")).contains("envco");

        Result wrongToken = cli(Map.of("MVM_COORDINATOR_URL", first.url(), "MVM_TOKEN", "not-the-token",
                        "MVM_CA_CERT", caCert.toString()),
                "tenant", "list");
        assertThat(wrongToken.exitCode()).isEqualTo(8);
        assertThat(wrongToken.errors()).startsWith("error: ").doesNotContain("Exception");

        first.process().destroy(); // SIGTERM: the shutdown hook stops the server
        assertThat(first.process().waitFor(60, TimeUnit.SECONDS)).as("coordinator exits on SIGTERM").isTrue();
        Result down = cli(env, "tenant", "list");
        assertThat(down.exitCode()).isEqualTo(7);
        assertThat(down.errors()).contains(first.url());

        Coordinator second = startCoordinator(data);
        assertThat(second.banner()).contains("admin token: " + tokenFile);
        Result again = cli(Map.of("MVM_COORDINATOR_URL", second.url(), "MVM_TOKEN", token, "MVM_CA_CERT",
                caCert.toString()), "tenant", "info", "envco");
        assertThat(again.exitCode()).as(again.output()).isZero();
        assertThat(again.output()).contains("envco");
    }

    private record Coordinator(Process process, String url, String banner) {}

    /** A CLI run: its exit code, standard output and standard error. */
    private record Result(int exitCode, String output, String errors) {}

    private Coordinator startCoordinator(Path data) throws Exception {
        Process p = java(Map.of(), true, "coordinator", "start", "--data-dir", data.toString(), "--listen", "127.0.0.1:0");
        children.add(p);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Coordinator> ready = CompletableFuture.supplyAsync(() -> {
            StringBuilder banner = new StringBuilder();
            String url = null;
            try {
                for (String line; (line = out.readLine()) != null; ) {
                    banner.append(line).append('\n');
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        url = m.group(1);
                    }
                    if (line.startsWith("nodes are marked lost")) {
                        Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                        return new Coordinator(p, url, banner.toString());
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            throw new IllegalStateException("coordinator exited before it was ready:\n" + banner);
        });
        Coordinator c = ready.get(120, TimeUnit.SECONDS);
        assertThat(c.url()).isNotNull();
        return c;
    }

    private Result cli(Map<String, String> env, String... args) throws Exception {
        Process p = java(env, false, args);
        CompletableFuture<String> errors = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), output, errors.get(30, TimeUnit.SECONDS));
    }

    private Process java(Map<String, String> env, boolean mergeErrors, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(mergeErrors);
        pb.environment().remove("MVM_TOKEN");
        pb.environment().remove("MVM_COORDINATOR_URL");
        pb.environment().remove("MVM_DATA_DIR");
        pb.environment().putAll(env);
        Process p = pb.start();
        children.add(p);
        return p;
    }
}
