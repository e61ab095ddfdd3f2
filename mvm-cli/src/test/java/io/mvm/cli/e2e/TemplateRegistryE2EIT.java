package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.template.TemplateCliIT;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Templates through the coordinator with real VMs: {@code mvm template create} registers a
 * file, {@code mvm template build NAME --on-host} builds a small OCI image (made here, with a
 * program the default image lacks) on the "build host" (the coordinator's data dir) and uploads
 * the revision by digest; an agent on its own data dir, which never built anything, is told the
 * revision by its desired state, fetches the artifacts from the coordinator, boots the VM from
 * them, and reports the revision it booted.
 */
class TemplateRegistryE2EIT {
    private Fleet fleet;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @AfterEach
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    private String exec(String instance, String command) {
        var run = fleet.mvm("instance", "exec", instance, "--", "sh", "-c", command);
        return run.exit() == 0 ? run.out() : "exit " + run.exit() + ": " + run.err();
    }

    @Test
    void anAgentFetchesARevisionItNeverBuiltAndBootsIt() throws Exception {
        fleet = Fleet.start("mvm-e2e-tpl-", Duration.ofSeconds(30), Duration.ofSeconds(5));
        Path home = fleet.root.resolve("coordinator-home");
        Files.createSymbolicLink(home.resolve("images"), VmHost.sharedImageDir().resolve("images"));
        Path src = fleet.root.resolve("src");
        TemplateCliIT.writeOneLayerImage(src.resolve("app-image"), Map.of("app/job",
                "#!/.mvm/bin/sh\necho \"registry job MODE=$MODE in $(pwd)\" > /run/job.out\nsleep 3600\n"));
        Path file = Files.writeString(src.resolve("app.toml"), """
                template_id = "regapp"
                [source.oci]
                layout = "app-image"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 192
                """);

        var created = fleet.mvm("template", "create", file.toString());
        assertThat(created.exit()).as(created.err()).isZero();
        var refused = fleet.mvm("pool", "create", "acme/web", "--flake", ".", "--profile", "minimal", "--cpus", "1",
                "--mem", "192", "--template", "regapp-worker", "--running", "1");
        assertThat(refused.exit()).as("no revision yet").isNotZero();
        var built = fleet.mvm("template", "build", "regapp-worker", "--on-host");
        assertThat(built.exit()).as(built.err()).isZero();
        JsonNode template = fleet.get("v1/templates/regapp-worker");
        String revision = template.path("current_revision").asText();
        assertThat(revision).hasSize(64);
        JsonNode record = fleet.get("v1/templates/regapp-worker/revisions/" + revision);
        assertThat(record.path("artifacts").findValuesAsText("role")).contains("kernel", "initramfs", "rootfs");

        var agent = fleet.agent("e2e-tpl");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);
        fleet.post("v1/tenants", Map.of("id", "acme"));
        fleet.createPool("acme", "web", "worker", 192, 1, "template", "regapp-worker", "data_disk_mib", 0);
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            var i = fleet.instances("acme", "web");
            return i.size() == 1 && i.getFirst().path("state").asText().equals("running");
        });
        String id = fleet.instances("acme", "web").getFirst().path("id").asText();
        // The image's own entrypoint ran: a program only this template has.
        await().atMost(Duration.ofMinutes(1)).until(() -> exec(id, "cat /run/job.out 2>/dev/null || true")
                .contains("registry job MODE=image in /app"));
        JsonNode shown = fleet.get("v1/instances/" + id);
        assertThat(shown.path("template").asText()).isEqualTo("regapp-worker");
        assertThat(shown.path("template_revision").asText()).isEqualTo(revision);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                fleet.get("v1/instances/" + id).path("booted_revision").asText().equals(revision));

        // The agent built nothing: it fetched every file by digest into its cache.
        assertThat(agent.dataDir.resolve("templates/regapp-worker")).doesNotExist();
        Path cache = agent.dataDir.resolve("artifacts-cache");
        for (JsonNode a : record.path("artifacts")) {
            Path blob = cache.resolve("sha256").resolve(a.path("sha256").asText());
            assertThat(blob).exists();
            assertThat(Files.size(blob)).isEqualTo(a.path("size").asLong());
        }
        assertThat(cache.resolve("revisions/regapp-worker/" + revision + "/revision.json")).exists();
        try (Stream<Path> partial = Files.list(cache.resolve("partial"))) {
            assertThat(partial.toList()).isEmpty();
        }
        var listed = fleet.mvm("instance", "list", "acme");
        assertThat(listed.exit()).isZero();
        assertThat(listed.out()).contains("regapp-worker").contains(revision.substring(0, 12));

        // Deleting the template is refused while the pool uses it.
        var delete = fleet.mvm("template", "delete", "regapp-worker");
        assertThat(delete.exit()).isNotZero();
        assertThat(fleet.get("v1/templates").path("items").findValuesAsText("name")).contains("regapp-worker");
        fleet.patch("v1/tenants/acme/pools/web", Map.of("running", 0));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> agent.qemus().isEmpty());
    }

    private static final String TOML = """
            template_id = "rollapp"
            [source.oci]
            layout = "app-image"
            [[variants]]
            role = "worker"
            vcpus = 1
            mem_mib = 160
            """;

    private String build(Path src, String version) throws Exception {
        TemplateCliIT.writeOneLayerImage(src.resolve("app-image"), Map.of("app/job",
                "#!/.mvm/bin/sh\necho \"version " + version + "\" > /run/job.out\nsleep 3600\n"));
        var built = fleet.mvm("template", "build", "rollapp-worker", "--on-host");
        assertThat(built.exit()).as(built.err()).isZero();
        return fleet.get("v1/templates/rollapp-worker").path("current_revision").asText();
    }

    /** Every live instance of the pool runs, was booted from {@code revision}, and its workload says {@code version}. */
    private boolean allOn(String revision, String version) {
        var live = fleet.instances("acme", "web").stream()
                .filter(i -> !i.path("desired_state").asText().equals("destroyed")).toList();
        if (live.size() != 2) {
            return false;
        }
        for (JsonNode i : live) {
            if (!i.path("state").asText().equals("running") || !i.path("booted_revision").asText().equals(revision)
                    || !exec(i.path("id").asText(), "cat /run/job.out 2>/dev/null || true").contains("version " + version)) {
                return false;
            }
        }
        return fleet.instances("acme", "web").size() == 2;
    }

    @Test
    void aNewBuildRollsThePoolOntoItAndRollbackReturnsWithRealVms() throws Exception {
        fleet = Fleet.start("mvm-e2e-roll-", Duration.ofSeconds(30), Duration.ofSeconds(5));
        Path home = fleet.root.resolve("coordinator-home");
        Files.createSymbolicLink(home.resolve("images"), VmHost.sharedImageDir().resolve("images"));
        Path src = Files.createDirectories(fleet.root.resolve("src"));
        Path file = Files.writeString(src.resolve("roll.toml"), TOML);
        assertThat(fleet.mvm("template", "create", file.toString()).exit()).isZero();
        String v1 = build(src, "one");
        var agent = fleet.agent("e2e-roll");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);
        fleet.post("v1/tenants", Map.of("id", "acme"));
        fleet.createPool("acme", "web", "worker", 160, 2, "template", "rollapp-worker", "data_disk_mib", 0);
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(2)).until(() -> allOn(v1, "one"));

        // A new build becomes current: the pool is replaced one instance at a time onto it.
        String v2 = build(src, "two");
        assertThat(v2).isNotEqualTo(v1);
        int mostPending = 0;
        long deadline = System.nanoTime() + Duration.ofMinutes(6).toNanos();
        while (System.nanoTime() < deadline && !(fleet.get("v1/tenants/acme/pools/web/rollout").path("status").asText()
                .equals("done") && allOn(v2, "two"))) {
            mostPending = Math.max(mostPending, fleet.get("v1/tenants/acme/pools/web/rollout").path("pending").size());
            Thread.sleep(1000);
        }
        JsonNode done = fleet.get("v1/tenants/acme/pools/web/rollout");
        assertThat(done.path("status").asText()).isEqualTo("done");
        assertThat(done.path("target_revision").asText()).isEqualTo(v2);
        assertThat(done.path("previous_revision").asText()).isEqualTo(v1);
        assertThat(done.path("replaced").asInt()).isEqualTo(2);
        assertThat(mostPending).as("max_unavailable 1").isLessThanOrEqualTo(1);
        assertThat(allOn(v2, "two")).isTrue();
        var shown = fleet.mvm("pool", "rollout", "acme/web");
        assertThat(shown.out()).contains("status:    done").contains(v2);

        // Rollback in one command: back to the first revision, rolling again.
        var back = fleet.mvm("pool", "rollback", "acme/web");
        assertThat(back.exit()).as(back.err()).isZero();
        await().atMost(Duration.ofMinutes(6)).pollInterval(Duration.ofSeconds(2)).until(() ->
                fleet.get("v1/tenants/acme/pools/web/rollout").path("status").asText().equals("done") && allOn(v1, "one"));
        assertThat(fleet.get("v1/tenants/acme/pools/web/rollout").path("pinned_revision").asText()).isEqualTo(v1);
        await().atMost(Duration.ofMinutes(2)).until(() -> agent.qemus().size() == 2);
        fleet.patch("v1/tenants/acme/pools/web", Map.of("running", 0));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> agent.qemus().isEmpty());
    }

    /**
     * Registers a revision like {@code base} whose kernel is garbage (as a broken build could
     * produce): a VM of it cannot run. Uploaded and registered through the API as a build host does.
     */
    private String brokenRevision(String name, String base) throws Exception {
        JsonNode record = fleet.get("v1/templates/" + name + "/revisions/" + base).path("record");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var copy = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(mapper.writeValueAsString(record));
        byte[] garbage = new byte[1 << 20];
        new java.util.Random(7).nextBytes(garbage);
        String digest = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(garbage));
        Path kernel = Files.write(fleet.root.resolve("garbage-kernel"), garbage);
        fleet.admin.putFile("v1/artifacts/sha256:" + digest, kernel);
        for (JsonNode a : copy.withArray("artifacts")) {
            if (a.path("role").asText().equals("kernel")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) a).put("sha256", digest).put("size", garbage.length);
            }
        }
        String hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(("broken" + base).getBytes()));
        copy.put("revision_hash", hash);
        fleet.admin.postJson("v1/templates/" + name + "/revisions", mapper.writeValueAsBytes(copy));
        return hash;
    }

    @Test
    void aRevisionThatCannotRunHaltsItsRolloutAndRollbackReturnsWithRealVms() throws Exception {
        fleet = Fleet.start("mvm-e2e-halt-", Duration.ofSeconds(30), Duration.ofSeconds(5));
        Path home = fleet.root.resolve("coordinator-home");
        Files.createSymbolicLink(home.resolve("images"), VmHost.sharedImageDir().resolve("images"));
        Path src = Files.createDirectories(fleet.root.resolve("src"));
        Path file = Files.writeString(src.resolve("roll.toml"), TOML);
        assertThat(fleet.mvm("template", "create", file.toString()).exit()).isZero();
        String v1 = build(src, "one");
        var agent = fleet.agent("e2e-halt");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);
        fleet.post("v1/tenants", Map.of("id", "acme"));
        fleet.createPool("acme", "web", "worker", 160, 2, "template", "rollapp-worker", "data_disk_mib", 0);
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(2)).until(() -> allOn(v1, "one"));

        String broken = brokenRevision("rollapp-worker", v1);
        await().atMost(Duration.ofMinutes(8)).pollInterval(Duration.ofSeconds(2)).until(() ->
                fleet.get("v1/tenants/acme/pools/web/rollout").path("status").asText().equals("halted"));
        JsonNode halted = fleet.get("v1/tenants/acme/pools/web/rollout");
        assertThat(halted.path("target_revision").asText()).isEqualTo(broken);
        assertThat(halted.path("reason").asText()).contains("replacement").contains("rollback");
        assertThat(halted.path("replaced").asInt()).as("halted after the first replacement").isEqualTo(1);
        var shown = fleet.mvm("pool", "rollout", "acme/web");
        assertThat(shown.out()).contains("status:    halted");
        // The other instance still runs the old revision: the rollout stopped at the first failure.
        assertThat(fleet.instances("acme", "web").stream()
                .filter(i -> !i.path("desired_state").asText().equals("destroyed"))
                .filter(i -> i.path("booted_revision").asText().equals(v1) && i.path("state").asText().equals("running")))
                .hasSize(1);

        var back = fleet.mvm("pool", "rollback", "acme/web");
        assertThat(back.exit()).as(back.err()).isZero();
        await().atMost(Duration.ofMinutes(6)).pollInterval(Duration.ofSeconds(2)).until(() ->
                fleet.get("v1/tenants/acme/pools/web/rollout").path("status").asText().equals("done") && allOn(v1, "one"));
        fleet.patch("v1/tenants/acme/pools/web", Map.of("running", 0));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> agent.qemus().isEmpty());
    }
}
