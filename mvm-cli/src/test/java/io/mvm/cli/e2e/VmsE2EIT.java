package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code /vms} with a real agent and real VMs: a submitted job cold-boots (202), {@code wait=running}
 * returns once its VM runs, the workload runs with its env and secret inside, a replaced spec
 * replaces the VM, a deleted job's VM is gone; a desired-VMs file adds and removes VMs as it is
 * edited.
 */
class VmsE2EIT {
    private Fleet fleet;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @AfterEach
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    private static Map<String, Object> spec(String marker) {
        return Map.of("cmd", List.of("/bin/sh", "-c", "echo \"$GREETING " + marker + "\" > /tmp/workload.out; sleep 100000"),
                "env", Map.of("GREETING", "hello"), "secrets", Map.of("API_KEY", "s3cret"),
                "resources", Map.of("vcpu", 1, "mem_mb", 128), "lifecycle", "service");
    }

    private String exec(String job, String command) {
        var run = fleet.mvm("instance", "exec", fleet.get("vms/" + job).path("vm_id").asText(), "--", "sh", "-c", command);
        assertThat(run.exit()).as(run.err()).isZero();
        return run.out();
    }

    @Test
    void aJobColdBootsRunsItsWorkloadIsReplacedAndDeletedAndTheFileAddsAndRemovesVms() throws Exception {
        fleet = Fleet.start("mvm-e2e-vms-", Duration.ofSeconds(30), Duration.ofSeconds(5));
        var agent = fleet.agent("e2e-vms");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);

        var submitted = fleet.post("vms", Map.of("job_id", "hello", "spec", spec("v1")));
        assertThat(submitted.path("tier").asText()).isEqualTo("cold-boot");
        var running = fleet.get("vms/hello?wait=running&timeout=240s");
        assertThat(running.path("status").asText()).isEqualTo("running");
        await().atMost(Duration.ofMinutes(1)).until(() -> exec("hello", "cat /tmp/workload.out 2>/dev/null || true")
                .contains("hello v1"));
        assertThat(exec("hello", "cat /run/secrets/API_KEY")).isEqualTo("s3cret");
        assertThat(agent.qemus()).hasSize(1);
        String firstVm = running.path("vm_id").asText();

        // Another spec: the VM is replaced to match.
        var replaced = fleet.post("vms", Map.of("job_id", "hello", "spec", spec("v2")));
        assertThat(replaced.path("outcome").asText()).isEqualTo("replaced");
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            var v = fleet.get("vms/hello");
            return v.path("status").asText().equals("running")
                    && exec("hello", "cat /tmp/workload.out 2>/dev/null || true").contains("hello v2");
        });
        assertThat(fleet.get("vms/hello").path("vm_id").asText()).as("a new VM for the new spec").isNotEqualTo(firstVm);
        await().atMost(Duration.ofMinutes(1)).until(() -> agent.qemus().size() == 1);

        // The desired-VMs file adds a VM; editing it away removes it again.
        Path file = fleet.root.resolve("vms.toml");
        Files.writeString(file, """
                [[vm]]
                vm_id = "from-file"
                [vm.spec]
                cmd = ["/bin/sh", "-c", "echo filed > /tmp/workload.out; sleep 100000"]
                resources = { vcpu = 1, mem_mb = 128 }
                lifecycle = "daemon"
                """);
        var watcher = fleet.coordinator.watchDesiredVms(file, Duration.ofMillis(500));
        assertThat(watcher.last().applied()).isTrue();
        assertThat(fleet.get("vms/from-file?wait=running&timeout=240s").path("status").asText()).isEqualTo("running");
        await().atMost(Duration.ofMinutes(1)).until(() -> exec("from-file", "cat /tmp/workload.out 2>/dev/null || true")
                .contains("filed"));
        assertThat(agent.qemus()).hasSize(2);
        Files.writeString(file, "# nothing declared\n");
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.get("vms").path("items").size() == 1);

        // Deleting the API job too: every VM goes, and so do the jobs' pools.
        fleet.admin.delete("vms/hello");
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> agent.qemus().isEmpty());
        await().atMost(Duration.ofMinutes(1)).until(() ->
                fleet.get("v1/tenants/hello/pools").path("items").isEmpty()
                        && fleet.get("v1/tenants/from-file/pools").path("items").isEmpty());
    }

    @Test
    void aRunOnceJobRecordsItsExitCodeAndOutputAndItsVmGoes() throws Exception {
        fleet = Fleet.start("mvm-e2e-job-", Duration.ofSeconds(30), Duration.ofSeconds(5));
        var agent = fleet.agent("e2e-job");
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);
        var submitted = fleet.post("vms", Map.of("job_id", "once", "spec", Map.of(
                "cmd", List.of("/bin/sh", "-c", "sleep 2; echo \"batch says $GREETING\"; exit 3"),
                "env", Map.of("GREETING", "bye"), "resources", Map.of("vcpu", 1, "mem_mb", 128),
                "lifecycle", "job")));
        assertThat(submitted.path("tier").asText()).isEqualTo("cold-boot");
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                .until(() -> fleet.get("vms/once").path("status").asText().equals("failed"));
        var finished = fleet.get("vms/once");
        assertThat(finished.path("exit_code").asInt()).isEqualTo(3);
        assertThat(finished.path("output_tail").asText()).contains("batch says bye");
        assertThat(finished.path("finished_at").asText()).isNotEmpty();
        await().atMost(Duration.ofMinutes(1)).until(() -> agent.qemus().isEmpty());

        // A service keeps running: when its workload exits, the node restarts its VM.
        fleet.post("vms", Map.of("job_id", "svc", "spec", Map.of(
                "cmd", List.of("/bin/sh", "-c", "sleep 3; exit 4"), "resources", Map.of("vcpu", 1, "mem_mb", 128),
                "lifecycle", "service")));
        String vm = fleet.get("vms/svc").path("vm_id").asText();
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                .until(() -> fleet.events(vm).stream().anyMatch(e -> e.path("type").asText().equals("restarted")
                        && e.path("message").asText().startsWith("the workload exited")));
        assertThat(fleet.events(vm)).anySatisfy(e -> assertThat(e.path("type").asText()).isEqualTo("workload-exited"));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1))
                .until(() -> fleet.get("vms/svc").path("status").asText().equals("running"));
        assertThat(fleet.get("vms/svc").path("vm_id").asText()).as("the same instance, restarted").isEqualTo(vm);
        assertThat(fleet.get("vms/svc").path("exit_code").isIntegralNumber()).as("a service has no outcome").isFalse();
    }
}
