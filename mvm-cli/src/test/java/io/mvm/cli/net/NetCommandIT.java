package io.mvm.cli.net;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code mvm net apply/verify/remove} end to end against a network namespace standing in for the
 * host: real bridges, taps and nftables, driven through the CLI's own parsing and exit codes.
 */
class NetCommandIT {
    private final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    private final String ns = "mvc" + id;
    private final String table = "mvm_c" + id;
    private Path dir;

    @BeforeEach
    void setUp() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/sbin/nft"));
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            assertThat(root).as("root and nft required (mvm.requireHostCapabilities=true)").isTrue();
        }
        Assumptions.assumeTrue(root, "needs root and nft");
        dir = Files.createTempDirectory("mvm-net-cli");
        sh("ip", "netns", "add", ns);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (dir != null) {
            sh("ip", "netns", "del", ns);
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private record Run(int exit, String out, String err) {}

    private Run mvm(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static String sh(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @Test
    void applyThenVerifyReportsDriftAndExitsNonZeroUntilRepaired() throws Exception {
        Path state = dir.resolve("state.json");
        Files.writeString(state, """
                {"version": 1, "table": "%s",
                 "tenants": [{"tenant": "acme", "net_id": 41, "subnet": "10.66.41.0/24"}],
                 "instances": [{"instance": "web-1", "tenant": "acme", "address": "10.66.41.5"}],
                 "opened_services": [{"transport": "tcp", "port": 9000, "tenant": "acme"}]}
                """.formatted(table));
        String dataDir = "--data-dir=" + dir;
        String netns = "--netns=" + ns;

        Run apply = mvm("net", "apply", "--state", state.toString(), dataDir, netns);
        assertThat(apply.exit()).as(apply.err()).isZero();
        assertThat(apply.out()).contains("created bridge mvb41", "created tap mvt");
        assertThat(dir.resolve("net/desired-network.json")).exists();

        Run clean = mvm("net", "verify", dataDir, netns);
        assertThat(clean.exit()).as(clean.out() + clean.err()).isZero();
        assertThat(clean.out()).contains("matches the desired state");
        assertThat(mvm("net", "apply", dataDir, netns).out()).contains("already matched");

        sh("ip", "netns", "exec", ns, "ip", "link", "del", "mvb41");
        Run drift = mvm("net", "verify", dataDir, netns);
        assertThat(drift.exit()).isEqualTo(5);
        assertThat(drift.out()).contains("drift: bridge mvb41 of tenant acme is missing");
        Run json = mvm("net", "verify", "--json", dataDir, netns);
        assertThat(json.exit()).isEqualTo(5);
        JsonNode report = new ObjectMapper().readTree(json.out());
        assertThat(report.path("clean").asBoolean(true)).isFalse();
        assertThat(report.path("drift").findValuesAsText("kind")).contains("missing-bridge", "wrong-master");

        assertThat(mvm("net", "apply", dataDir, netns).exit()).isZero();
        assertThat(mvm("net", "verify", dataDir, netns).exit()).isZero();

        Run remove = mvm("net", "remove", "--table", table, netns);
        assertThat(remove.exit()).as(remove.err()).isZero();
        assertThat(sh("ip", "netns", "exec", ns, "nft", "list", "tables")).doesNotContain(table);
        assertThat(sh("ip", "netns", "exec", ns, "ip", "-o", "link")).doesNotContain("mvb41", "mvt");
    }

    @Test
    void badInputIsRefusedWithOneClearLineBeforeAnythingRuns() throws Exception {
        Path state = dir.resolve("bad.json");
        Files.writeString(state, """
                {"table": "%s", "tenants": [{"tenant": "acme", "net_id": 41, "subnet": "10.66.41.0/24"}],
                 "instances": [{"instance": "web-1", "tenant": "acme", "address": "10.66.42.5"}]}
                """.formatted(table));
        Run run = mvm("net", "apply", "--state", state.toString(), "--data-dir=" + dir, "--netns=" + ns);
        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err().strip()).startsWith("error: instance web-1: address 10.66.42.5 is not a guest address")
                .doesNotContain("Exception").hasLineCount(1);
        assertThat(sh("ip", "netns", "exec", ns, "ip", "-o", "link")).doesNotContain("mvb41");
        Run missing = mvm("net", "verify", "--data-dir=" + dir.resolve("empty"), "--netns=" + ns);
        assertThat(missing.exit()).isEqualTo(3);
        assertThat(missing.err()).contains("no desired network state");
        assertThat(List.of(mvm("net", "remove", "--table", "Bad;", "--netns=" + ns).exit())).containsExactly(2);
    }
}
