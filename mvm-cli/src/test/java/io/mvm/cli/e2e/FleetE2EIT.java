package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.vm.LocalRuntime;
import io.mvm.model.InstanceState;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One real coordinator, one real agent process ({@code mvm agent serve}), real QEMU microVMs: the
 * issue-#4 scenarios for a single node, in order, sharing the VMs (at most three at a time).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetE2EIT {
    private static final Duration CONVERGE = Duration.ofMinutes(6);
    private static final String TENANT = "acme";
    private Fleet fleet;
    private Fleet.Agent agent;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @BeforeAll
    void start() throws Exception {
        fleet = Fleet.start("mvm-e2e-one-", Duration.ofSeconds(30), Duration.ofSeconds(2));
        agent = fleet.agent("e2e-node-a");
        fleet.post("v1/tenants", Map.of("id", TENANT));
    }

    @AfterAll
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    @Order(1)
    void gatewayRunsBeforeWorkers() throws Exception {
        // The node registers, then its agent goes away while both pools are placed on it (worker
        // pool first), so the next agent sees both instances at once and only role order keeps
        // the worker's boot from starting before the gateway's has finished.
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(200)).ignoreExceptions().until(() ->
                fleet.node("e2e-node-a").path("status").asText().equals("ready"));
        agent.kill9();
        fleet.createPool(TENANT, "workers", "worker", 256, 1);
        fleet.createPool(TENANT, "gateways", "gateway", 256, 1);
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
            List<JsonNode> all = fleet.instances(TENANT);
            return all.size() == 2 && all.stream().allMatch(i -> i.path("node").isTextual() && !i.path("node").asText().isEmpty());
        });
        agent.start();

        awaitRunning(2);
        var gateway = fleet.instances(TENANT, "gateways").getFirst().path("id").asText();
        var worker = fleet.instances(TENANT, "workers").getFirst().path("id").asText();
        awaitEvent(gateway, "created");
        awaitEvent(worker, "creating");
        assertThat(firstEvent(worker, "creating")).as("the worker's boot starts after the gateway's has finished")
                .isAfterOrEqualTo(firstEvent(gateway, "created"));
        assertThat(fleet.node("e2e-node-a").path("status").asText()).isEqualTo("ready");
        assertThat(agent.qemus()).hasSize(2);
    }

    @Test
    @Order(2)
    void execAndLogsGoThroughCoordinatorAndAgentToTheGuest() {
        var worker = worker(0);
        var run = fleet.mvm("instance", "exec", worker, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7");
        assertThat(run.exit()).as(run.err()).isEqualTo(7);
        assertThat(run.out()).contains("to-stdout");
        assertThat(run.err()).contains("to-stderr");

        var uname = fleet.mvm("instance", "exec", worker, "--", "uname", "-a");
        assertThat(uname.exit()).as(uname.err()).isZero();
        assertThat(uname.out()).contains("Linux");

        var logs = fleet.mvm("instance", "logs", worker, "--lines", "200");
        assertThat(logs.exit()).as(logs.err()).isZero();
        assertThat(logs.out()).contains("mvm-guest-ready");
    }

    @Test
    @Order(2)
    void execOutputArrivesWhileTheCommandRunsAndAFloodIsCut() throws Exception {
        var worker = worker(0);
        var firstPrinted = new java.util.concurrent.CountDownLatch(1);
        var printed = new StringBuffer();
        // The command waits for a file that only a second exec creates, after the CLI printed its first line:
        // output held back until the end would leave both waiting.
        var waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> fleet.mvmWatching(text -> {
            printed.append(text);
            if (printed.toString().contains("first\n")) {
                firstPrinted.countDown();
            }
        }, "instance", "exec", worker, "--timeout", "120", "--", "sh", "-c",
                "echo first; while [ ! -e /tmp/go ]; do sleep 0.2; done; echo second"),
                java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        assertThat(firstPrinted.await(90, java.util.concurrent.TimeUnit.SECONDS))
                .as("the first line is printed while the command still runs").isTrue();
        assertThat(waiting).isNotDone();
        var go = fleet.mvm("instance", "exec", worker, "--", "touch", "/tmp/go");
        assertThat(go.exit()).as(go.err()).isZero();
        var done = waiting.get(90, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(done.exit()).as(done.err()).isZero();
        assertThat(done.out()).isEqualTo("first\nsecond\n");

        // 3 MB on stdout: exactly the first 1 MiB arrives, and the CLI says it was cut.
        var flood = fleet.mvm("instance", "exec", worker, "--", "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo done >&2");
        assertThat(flood.exit()).as(flood.err()).isZero();
        assertThat(flood.out()).hasSize(1 << 20).matches("x+");
        assertThat(flood.err()).contains("done").contains("only the first 1 MiB");
    }

    @Test
    @Order(3)
    void agentKilledInTheMiddleOfAScaleUpConvergesWithoutDuplicates() throws Exception {
        fleet.scale(TENANT, "workers", 2, 0, 0);
        // Mid-create: the new instance's VM directory exists on the node, but it is not running yet.
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(200)).until(() -> vmDirs() == 3);
        agent.kill9();
        agent.start();

        awaitRunning(3);
        await().atMost(CONVERGE).until(() -> agent.qemus().size() == 3);
        assertThat(vmDirs()).isEqualTo(3);
        assertThat(fleet.instances(TENANT)).hasSize(3);
        // Still exactly three a while later: nothing orphaned, nothing duplicated.
        Thread.sleep(5_000);
        assertThat(agent.qemus()).hasSize(3);
    }

    @Test
    @Order(4)
    void aKilledVmmIsRestartedAndTheRestartIsAnEvent() {
        var worker = worker(0);
        long pid = LocalRuntime.open(agent.dataDir, VmHost.sharedImageDir(), Optional.empty()).status(worker).pid();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();

        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                fleet.events(worker).stream().anyMatch(e -> e.path("type").asText().equals("restarted")));
        awaitRunning(3);
        assertThat(fleet.events(worker)).extracting(e -> e.path("type").asText()).contains("vmm-exited", "restarted");
        assertThat(agent.qemus()).hasSize(3).doesNotContain(pid);
    }

    @Test
    @Order(5)
    void workersGoWarmThenToSleepThenWakeFromTheirSnapshots() {
        var workers = List.of(worker(0), worker(1));
        for (var w : workers) {
            var run = fleet.mvm("instance", "exec", w, "--", "sh", "-c", "echo marker-" + w + " > /tmp/marker");
            assertThat(run.exit()).as(run.err()).isZero();
        }

        fleet.scale(TENANT, "workers", 0, 2, 0);
        awaitStates("workers", "warm");
        var vms = LocalRuntime.open(agent.dataDir, VmHost.sharedImageDir(), Optional.empty());
        for (var w : workers) {
            assertThat(vms.status(w).state()).isEqualTo(InstanceState.WARM); // QMP query-status: paused
        }
        assertThat(agent.qemus()).hasSize(3);

        fleet.scale(TENANT, "workers", 0, 0, 2);
        awaitStates("workers", "sleeping");
        for (var w : workers) {
            assertThat(agent.dataDir.resolve("vms").resolve(w).resolve("snapshot.bin")).isRegularFile();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.qemus().size() == 1);

        fleet.scale(TENANT, "workers", 2, 0, 0);
        awaitRunning(3);
        for (var w : workers) {
            awaitEvent(w, "woken");
            var run = fleet.mvm("instance", "exec", w, "--", "cat", "/tmp/marker");
            assertThat(run.out()).as(run.err()).contains("marker-" + w);
            assertThat(fleet.events(w)).extracting(e -> e.path("type").asText()).contains("paused", "slept", "woken");
            assertThat(Files.exists(agent.dataDir.resolve("vms").resolve(w).resolve("snapshot.bin"))).isFalse();
        }
        assertThat(agent.qemus()).hasSize(3);
    }

    private String worker(int index) {
        return fleet.instances(TENANT, "workers").stream().map(i -> i.path("id").asText()).sorted().toList().get(index);
    }

    private long vmDirs() {
        try (var dirs = Files.list(agent.dataDir.resolve("vms"))) {
            return dirs.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith(".")).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private void awaitRunning(int count) {
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> {
            List<JsonNode> all = fleet.instances(TENANT);
            return all.size() == count && all.stream().allMatch(i -> i.path("state").asText().equals("running"));
        });
    }

    private void awaitStates(String pool, String state) {
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                fleet.instances(TENANT, pool).stream().allMatch(i -> i.path("state").asText().equals(state)));
    }

    private void awaitEvent(String instance, String type) {
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofSeconds(1)).until(() ->
                fleet.events(instance).stream().anyMatch(e -> e.path("type").asText().equals(type)));
    }

    private Instant firstEvent(String instance, String type) {
        return fleet.events(instance).stream().filter(e -> e.path("type").asText().equals(type))
                .map(e -> Instant.parse(e.path("time").asText())).min(Instant::compareTo)
                .orElseThrow(() -> new AssertionError("no " + type + " event for " + instance + ": " + fleet.events(instance)));
    }
}
