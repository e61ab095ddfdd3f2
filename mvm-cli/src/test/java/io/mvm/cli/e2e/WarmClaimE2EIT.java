package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.model.InstanceId;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Warm pools with a real agent, real VMs and the host network: a spec's warm VM boots, pauses and
 * stands by on a tap that is on no bridge; a submission of the same spec claims it (201) and gets
 * its workload, secret, address and identity in the guest and its tap on the tenant's bridge,
 * before the answer; the warm pool refills with another VM.
 */
class WarmClaimE2EIT {
    private Fleet fleet;
    @RegisterExtension
    final PrintLogsOnFailure logsOnFailure = new PrintLogsOnFailure(() -> fleet == null ? null : fleet.agentLogs());

    @AfterEach
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    private static Map<String, Object> spec() {
        return Map.of("cmd", List.of("/bin/sh", "-c", "echo \"$GREETING from $(hostname)\" > /tmp/workload.out;"
                        + " sleep 100000"),
                "env", Map.of("GREETING", "hello"), "secrets", Map.of("API_KEY", "s3cret"),
                "resources", Map.of("vcpu", 1, "mem_mb", 128), "lifecycle", "service",
                "warm_pool", Map.of("min", 1, "max", 2));
    }

    private String exec(String job, String command) {
        var run = fleet.mvm("instance", "exec", fleet.get("vms/" + job).path("vm_id").asText(), "--", "sh", "-c", command);
        assertThat(run.exit()).as(run.err()).isZero();
        return run.out();
    }

    private Optional<JsonNode> warmVm(String status) {
        for (JsonNode w : fleet.get("stats").path("warm_pool")) {
            if (w.path("status").asText().equals(status)) {
                return Optional.of(w);
            }
        }
        return Optional.empty();
    }

    private static String master(String device) throws Exception {
        var p = new ProcessBuilder("ip", "-o", "link", "show", "dev", device).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        var m = java.util.regex.Pattern.compile(" master (\\S+) ").matcher(out);
        return m.find() ? m.group(1) : "";
    }

    @Test
    void aSubmissionClaimsAWarmVmThatJoinsItsTenantBeforeTheAnswerAndThePoolRefills() throws Exception {
        // A node timeout well above the claim timeout (30 s): the agent is frozen that long below.
        fleet = Fleet.start("mvm-e2e-warm-", Duration.ofSeconds(120), Duration.ofSeconds(5));
        String table = "mvmwarm" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
        var agent = fleet.networkedAgent("e2e-warm", table);
        await().atMost(Duration.ofMinutes(2)).until(() -> fleet.get("v1/nodes").path("items").size() == 1);

        // The first job of the spec cold-boots; its warm pool boots a VM that stands by, paused.
        assertThat(fleet.post("vms", Map.of("job_id", "seed", "spec", spec())).path("tier").asText())
                .isEqualTo("cold-boot");
        assertThat(fleet.get("vms/seed?wait=running&timeout=240s").path("status").asText()).isEqualTo("running");
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                .until(() -> warmVm("warm").isPresent());
        String warmId = warmVm("warm").orElseThrow().path("vm_id").asText();
        String tap = DeviceNames.tap(InstanceId.of(warmId));
        assertThat(master(tap)).as("a warm VM's tap is on no bridge").isEmpty();

        // Same spec, another tenant: the warm VM is claimed and runs the workload before the answer.
        JsonNode claimed = fleet.post("vms", Map.of("job_id", "claimer", "tenant", "acme", "spec", spec()));
        assertThat(claimed.path("outcome").asText()).as(claimed.toString()).isEqualTo("claimed");
        assertThat(claimed.path("tier").asText()).isEqualTo("warm");
        assertThat(claimed.path("vm_id").asText()).isEqualTo(warmId);
        assertThat(claimed.path("claim_phases_ms").has("identity")).isTrue();
        String ip = fleet.get("vms/claimer").path("ip").asText();
        JsonNode acme = fleet.get("v1/tenants/acme");
        assertThat(master(tap)).as("the claimed VM's tap joined its tenant's bridge")
                .isEqualTo(DeviceNames.bridge(acme.path("net_id").asInt()));
        await().atMost(Duration.ofSeconds(30)).until(() -> exec("claimer", "cat /tmp/workload.out 2>/dev/null || true")
                .contains("hello from " + warmId));
        assertThat(exec("claimer", "cat /run/secrets/API_KEY")).isEqualTo("s3cret");
        assertThat(exec("claimer", "ip -4 addr show dev eth0")).contains(ip + "/");
        assertThat(exec("claimer", "cat /run/mvm/generation").strip()).isNotEqualTo("0");
        assertThat(exec("claimer", "cat /etc/machine-id")).isNotEqualTo(exec("seed", "cat /etc/machine-id"));

        // The pool refills: another VM stands by.
        await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                .until(() -> warmVm("warm").filter(w -> !w.path("vm_id").asText().equals(warmId)).isPresent());
        assertThat(fleet.get("stats").path("summary").path("total_warm").asInt()).isEqualTo(1);

        // A claim recorded but never delivered (as when the coordinator dies right after its commit):
        // the agent is frozen, the hand-over times out, and the job is answered 202. Once the agent
        // runs again, its reconcile pass performs the recorded claim itself: the same VM, no other.
        String nextWarm = warmVm("warm").orElseThrow().path("vm_id").asText();
        agent.freeze();
        JsonNode undelivered;
        try {
            undelivered = fleet.post("vms", Map.of("job_id", "undelivered", "tenant", "beta", "spec", spec()));
        } finally {
            agent.thaw();
        }
        assertThat(undelivered.path("claim_miss").asText()).as(undelivered.toString()).isNotEmpty();
        assertThat(undelivered.path("vm_id").asText()).isEqualTo(nextWarm);
        assertThat(fleet.get("vms/undelivered?wait=running&timeout=240s").path("vm_id").asText()).isEqualTo(nextWarm);
        await().atMost(Duration.ofSeconds(60)).until(() -> exec("undelivered",
                "cat /tmp/workload.out 2>/dev/null || true").contains("hello from " + nextWarm));
        assertThat(exec("undelivered", "cat /run/secrets/API_KEY")).isEqualTo("s3cret");
        assertThat(exec("undelivered", "ip -4 addr show dev eth0"))
                .contains(fleet.get("vms/undelivered").path("ip").asText() + "/");
        assertThat(master(DeviceNames.tap(InstanceId.of(nextWarm))))
                .isEqualTo(DeviceNames.bridge(fleet.get("v1/tenants/beta").path("net_id").asInt()));
    }
}
