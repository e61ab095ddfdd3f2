package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code mvm vms ...} as a user types it, against a real coordinator (no VMs boot here). */
class VmsCliIT {
    private Path dataDir;
    private Coordinator coordinator;
    private String url;

    record Run(int exit, String out, String err) {}

    @BeforeEach
    void start() throws IOException {
        dataDir = Files.createTempDirectory("mvm-vms-cli-");
        coordinator = Coordinator.start(CoordinatorConfig.defaults(dataDir).withListen("127.0.0.1", 0));
        url = "http://127.0.0.1:" + coordinator.port();
    }

    @AfterEach
    void stop() throws IOException {
        try {
            coordinator.stop();
        } finally {
            try (Stream<Path> walk = Files.walk(dataDir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Run mvm(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--coordinator-url=" + url);
        all.add("--data-dir=" + dataDir);
        return raw(all.toArray(String[]::new));
    }

    private static Run raw(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return new Run(cli.execute(args), out.toString(), err.toString());
    }

    @Test
    void runListGetStatsAndRemoveAJob() throws IOException {
        Path secret = dataDir.resolve("key.txt");
        Files.writeString(secret, "s3cret\n");
        Run run = mvm("vms", "run", "--job-id", "hello", "--cmd", "/bin/sh", "--cmd", "-c", "--cmd", "sleep 1000",
                "--env", "GREETING=hi", "--secret-file", "KEY=" + secret, "--mem", "128");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).contains("cold boot (tier cold-boot").contains("job:      hello  (tenant hello, api)")
                .contains("secrets [\"KEY\"]").doesNotContain("s3cret");
        Run again = mvm("vms", "run", "--job-id", "hello", "--cmd", "/bin/sh", "--cmd", "-c", "--cmd", "sleep 1000",
                "--env", "GREETING=hi", "--secret-file", "KEY=" + secret, "--mem", "128");
        assertThat(again.out()).startsWith("unchanged (tier none");

        Run list = mvm("vms", "list");
        assertThat(list.out().lines().findFirst().orElseThrow()).startsWith("JOB").contains("STATUS").contains("SOURCE");
        assertThat(list.out()).contains("hello");
        assertThat(mvm("vms", "get", "hello", "--json").out()).contains("\"job_id\" : \"hello\"");
        Run waited = mvm("vms", "get", "hello", "--wait", "--timeout", "200ms");
        assertThat(waited.exit()).isNotZero();
        assertThat(waited.err()).contains("not running after 200 ms");
        assertThat(mvm("vms", "stats").out()).contains("jobs: 1  warm VMs: 0");

        Run bad = mvm("vms", "run", "--cmd", "x", "--vcpu", "0", "--lifecycle", "forever");
        assertThat(bad.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("spec.resources.vcpu must be 1-64").contains("spec.lifecycle must be");

        assertThat(mvm("vms", "rm", "hello").out()).contains("job hello deleted");
        assertThat(mvm("vms", "get", "hello").exit()).isEqualTo(3);
    }

    @Test
    void tenantTokensAreCreatedListedUsedAndRevoked() {
        assertThat(mvm("tenant", "create", "acme").exit()).isZero();
        Run created = mvm("token", "create", "--tenant", "acme", "--role", "tenant-read", "--name", "ci");
        assertThat(created.exit()).as(created.err()).isZero();
        String token = created.out().strip();
        assertThat(token).startsWith("mvmt_");
        assertThat(created.err()).contains("tenant acme, tenant-read");
        Run list = mvm("token", "list");
        assertThat(list.out()).contains("tenant").contains("ci").contains("acme").doesNotContain(token);
        var readOnly = new io.mvm.cli.client.CoordinatorClient(java.net.URI.create(url + "/"), token);
        assertThat(readOnly.get("v1/tenants").get("items").findValuesAsText("id")).containsExactly("acme");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> readOnly.post("v1/tenants/acme/pools",
                java.util.Map.of("name", "p", "profile", "m", "flake", ".", "vcpus", 1, "memory_mib", 64))))
                .hasMessageContaining("tenant-admin token of tenant acme");
        String id = mvm("token", "list", "--json").out().replaceAll("(?s).*\"id\" : \"([^\"]+)\".*", "$1");
        assertThat(mvm("token", "revoke", id).out()).contains("revoked");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> readOnly.get("v1/tenants")))
                .hasMessageContaining("invalid or revoked token");
        Run both = mvm("token", "create", "--metrics", "--tenant", "acme");
        assertThat(both.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(both.err()).contains("either --tenant T --role R, or --metrics");
        assertThat(mvm("token", "create", "--metrics").out()).startsWith("mvmm_");
    }

    @Test
    void validateChecksAFileWithoutACoordinator() throws IOException {
        Path good = dataDir.resolve("good.toml");
        Files.writeString(good, """
                [[vm]]
                vm_id = "web"
                [vm.spec]
                cmd = ["/app/server"]
                resources = { vcpu = 1, mem_mb = 128 }
                lifecycle = "service"
                """);
        Run ok = raw("vms", "validate", good.toString());
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("valid, 1 VM(s): web");

        Path bad = dataDir.resolve("bad.toml");
        Files.writeString(bad, """
                [[vm]]
                vm_id = "web"
                [vm.spec]
                cmd = []
                resources = { vcpu = 1, mem_mb = 128 }
                lifecycle = "service"

                [[vm]]
                vm_id = "Web_2"
                colour = "red"
                """);
        Run refused = raw("vms", "validate", bad.toString());
        assertThat(refused.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(refused.err()).contains("bad.toml:1: vm[0]: spec.cmd is required")
                .contains("bad.toml:8: vm[1]: unknown key 'colour'").contains("bad.toml:8: vm[1]: invalid job_id 'Web_2'")
                .contains("bad.toml:8: vm[1]: spec is required").contains("4 problem(s)").doesNotContain("Exception");
        assertThat(raw("vms", "validate", dataDir.resolve("missing.toml").toString()).err())
                .contains("does not exist");
    }
}
