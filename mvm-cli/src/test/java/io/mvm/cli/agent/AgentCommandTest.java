package io.mvm.cli.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bad input to {@code mvm agent serve} is refused with one clear line, before any image, VM or socket exists. */
class AgentCommandTest {
    private Path dataDir;

    @BeforeEach
    void dir() throws IOException {
        dataDir = Files.createTempDirectory("mvm-agent-cmd-");
    }

    @AfterEach
    void clean() throws IOException {
        try (var walk = Files.walk(dataDir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    record Run(int exit, String err) {}

    private Run serve(String... args) {
        var all = new ArrayList<>(List.of("agent", "serve", "--data-dir", dataDir.toString()));
        all.addAll(List.of(args));
        var cli = Main.commandLine();
        var err = new StringWriter();
        cli.setOut(new PrintWriter(new StringWriter(), true));
        cli.setErr(new PrintWriter(err, true));
        return new Run(cli.execute(all.toArray(String[]::new)), err.toString());
    }

    @Test
    void refusesBadInputBeforeStartingAnything() {
        assertThat(serve("--coordinator-url", "nope", "--token", "t"))
                .satisfies(r -> assertThat(r.exit()).isEqualTo(2))
                .satisfies(r -> assertThat(r.err()).contains("--coordinator-url must be http(s)://HOST:PORT"));
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--listen", "x:y").err())
                .contains("--listen must be HOST:PORT");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--network", "bridge").err())
                .contains("--network must be 'host' or 'none'");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--interval-secs", "0").err())
                .contains("--interval-secs must be 1-3600");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--node-id", "Bad Node").err())
                .contains("invalid node id");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--capacity-vcpus", "0").err())
                .contains("capacity must offer at least 1 vCPU");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--underlay-address", "10.0.0").err())
                .contains("invalid IPv4 address '10.0.0'");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--underlay-address", "10.0.0.1",
                "--network", "none").err()).contains("--underlay-address needs --network host");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--network-repair-secs", "0").err())
                .contains("--network-repair-secs must be 1-3600");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--netns", "no such").err())
                .contains("invalid network namespace name");
        assertThat(serve("--coordinator-url", "http://127.0.0.1:1", "--token", "t", "--netns", "mvm-absent-ns-0").err())
                .contains("network namespace mvm-absent-ns-0 does not exist");
        assertThat(Files.exists(dataDir.resolve("vms"))).isFalse();
        assertThat(Files.exists(dataDir.resolve("images"))).isFalse();
    }

    @Test
    void severalCoordinatorUrlsRepeatedOrCommaSeparatedAndTheSelfFencingDelays() {
        assertThat(AgentCommand.coordinatorUris(List.of("http://c1:7777, http://c2:7777", "https://c3:7777")))
                .extracting(java.net.URI::toString)
                .containsExactly("http://c1:7777", "http://c2:7777", "https://c3:7777");
        assertThat(serve("--coordinator-url", "http://c1:7777,nope", "--token", "t").err())
                .contains("--coordinator-url must be http(s)://HOST:PORT, got 'nope'");
        assertThat(serve("--coordinator-url", "http://c1:7777", "--coordinator-url", "http://c1:7777", "--token", "t")
                .err()).contains("lists a coordinator twice");
        assertThat(serve("--coordinator-url", "http://c1:7777", "--token", "t", "--fence-after-secs", "0").err())
                .contains("--fence-after-secs must be 1-86400");
        assertThat(AgentCommand.selfFence(30, 15)).isEqualTo(io.mvm.core.fence.SelfFence.DEFAULT);
        assertThat(Files.exists(dataDir.resolve("vms"))).isFalse();
    }

    @Test
    void theNodeTokenComesFromTheFlagTheFileTheEnvironmentOrTheDataDir() throws IOException {
        assertThat(AgentCommand.resolveToken(" flag ", null, dataDir)).isEqualTo("flag");
        var file = dataDir.resolve("t.txt");
        Files.writeString(file, "from-file\n");
        assertThat(AgentCommand.resolveToken(null, file, dataDir)).isEqualTo("from-file");
        if (System.getenv("MVM_NODE_TOKEN") == null) {
            var missing = serve("--coordinator-url", "http://127.0.0.1:1");
            assertThat(missing.exit()).isEqualTo(2);
            assertThat(missing.err()).contains("no node token");
            Files.createDirectories(dataDir.resolve("agent"));
            Files.writeString(dataDir.resolve("agent").resolve("node.token"), "kept\n");
            assertThat(AgentCommand.resolveToken(null, null, dataDir)).isEqualTo("kept");
        }
    }

    @Test
    void theDefaultNodeIdIsAValidHostName() {
        assertThat(NodeAgent.defaultNodeId().value()).matches("[a-z0-9][a-z0-9.-]{0,62}");
        assertThat(NodeAgent.parseListen("7780").getPort()).isEqualTo(7780);
        assertThat(NodeAgent.parseListen("0.0.0.0:0").getHostString()).isEqualTo("0.0.0.0");
    }
}
