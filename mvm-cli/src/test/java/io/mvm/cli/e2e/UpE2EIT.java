package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.Main;
import io.mvm.cli.client.CoordinatorClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code mvm up} as a user runs it, in a child process with its own data dir and port: the demo
 * tenant's two workers come up, exec reaches one of them, SIGTERM stops coordinator and agent but
 * not the VMs, and a second {@code mvm up} re-adopts the same two VMMs (same pids, no duplicates).
 */
class UpE2EIT {
    private Path dataDir;
    private Process up;
    private ChildCleanup children;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> dataDir == null ? null
            : "----- up-1.log\n" + VmHost.tail(dataDir.resolve("up-1.log"), 150)
            + "\n----- up-2.log\n" + VmHost.tail(dataDir.resolve("up-2.log"), 150));

    @AfterEach
    void cleanUp() throws Exception {
        if (up != null) {
            up.destroyForcibly();
            up.waitFor(30, TimeUnit.SECONDS);
        }
        if (dataDir != null) {
            Fleet.destroyVms(dataDir);
            if (children != null) {
                children.run();
            }
            VmHost.deleteTree(dataDir);
        }
    }

    @Test
    void upStartsTheDemoAndAnotherUpReadoptsItsVms() throws Exception {
        VmHost.require();
        dataDir = Files.createTempDirectory("mvm-e2e-up-");
        children = new ChildCleanup(dataDir);
        int port;
        try (var socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String url = "https://127.0.0.1:" + port;

        up = startUp(port, "up-1.log");
        awaitReady("up-1.log");
        // mvm up runs TLS: the CLI trusts the cluster CA it made under the data dir.
        var admin = new CoordinatorClient(URI.create(url + "/"),
                Files.readString(dataDir.resolve("coordinator").resolve("admin.token")).strip(),
                java.util.Optional.of(CoordinatorClient.trusting(dataDir.resolve("coordinator/tls/ca.crt"))));
        var instances = items(admin.get("v1/tenants/demo/instances"));
        assertThat(instances).hasSize(2).allMatch(i -> i.path("state").asText().equals("running"));
        assertThat(Files.readString(dataDir.resolve("up-1.log"))).contains("./mvm instance exec", "demo/workers");
        Set<Long> pids = new TreeSet<>(VmHost.qemusMentioning(dataDir + "/"));
        assertThat(pids).hasSize(2);

        var exec = mvm("instance", "exec", instances.getFirst().path("id").asText(), "--coordinator-url=" + url,
                "--data-dir=" + dataDir, "--", "uname", "-a");
        assertThat(exec.exitCode).as(exec.err).isZero();
        assertThat(exec.out).contains("Linux");

        up.destroy(); // SIGTERM, as Ctrl-C/systemd would: shutdown hooks run
        assertThat(up.waitFor(2, TimeUnit.MINUTES)).isTrue();
        assertThat(new TreeSet<>(VmHost.qemusMentioning(dataDir + "/"))).isEqualTo(pids);

        up = startUp(port, "up-2.log");
        awaitReady("up-2.log");
        var again = items(admin.get("v1/tenants/demo/instances"));
        assertThat(again).hasSize(2).allMatch(i -> i.path("state").asText().equals("running"));
        assertThat(again).extracting(i -> i.path("id").asText())
                .containsExactlyInAnyOrderElementsOf(instances.stream().map(i -> i.path("id").asText()).toList());
        assertThat(Files.readString(dataDir.resolve("up-2.log"))).doesNotContain("creating tenant");
        assertThat(new TreeSet<>(VmHost.qemusMentioning(dataDir + "/"))).isEqualTo(pids);
    }

    private Process startUp(int port, String log) throws IOException {
        var command = new ArrayList<>(List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx384m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "up", "--data-dir", dataDir.toString(), "--listen", "127.0.0.1:" + port,
                "--image-dir", VmHost.sharedImageDir().toString(), "--network", "none", "--interval-secs", "1"));
        var pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dataDir.resolve(log).toFile());
        pb.environment().remove("MVM_DATA_DIR");
        var process = pb.start();
        children.track(process);
        return process;
    }

    private void awaitReady(String log) {
        await().atMost(Duration.ofMinutes(8)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            if (!up.isAlive()) {
                throw new AssertionError("mvm up exited " + up.exitValue() + ":\n" + Files.readString(dataDir.resolve(log)));
            }
            return Files.readString(dataDir.resolve(log)).contains("Press Ctrl-C");
        });
    }

    private static List<JsonNode> items(JsonNode list) {
        return StreamSupport.stream(list.path("items").spliterator(), false).toList();
    }

    record Run(int exitCode, String out, String err) {}

    private static Run mvm(String... args) {
        var cli = Main.commandLine();
        var out = new StringWriter();
        var err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }
}
