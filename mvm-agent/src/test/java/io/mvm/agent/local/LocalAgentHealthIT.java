package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.coordinator.RelayEndpoint;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.agent.relay.AgentToken;
import io.mvm.agent.relay.RelayServer;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.PlannerSettings;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.vm.LocalVms;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Health verdicts on ONE real QEMU microVM (no NIC), in sequence: a guest agent frozen with
 * SIGSTOP is reported {@code guest-unresponsive} and the VM restarted; a secret changed in the
 * desired spec reaches {@code /run/secrets} through sleep and wake; a VMM killed again and again
 * exhausts {@code maxRestarts = 2} and the instance is reported {@code failed} with the reason.
 */
class LocalAgentHealthIT {
    private static final Duration CONVERGE = Duration.ofMinutes(6);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final InstanceId id = InstanceId.of("hw1-" + run);
    private final ScriptedCoordinator coordinator = new ScriptedCoordinator();
    private final HttpClient http = HttpClient.newHttpClient();

    private Path dataDir;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private RelayServer relay;
    private AgentToken token;
    private AgentService agent;

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-agent-health-it-");
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), VirtioSerialGuestChannel::connect,
                InstantSource.system()), InstantSource.system());
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
        runtime.recover();
        token = AgentToken.createIn(dataDir);
        relay = RelayServer.start(new InetSocketAddress("127.0.0.1", 0), runtime, token);
        var d = AgentSettings.defaults(NodeId.of("health-" + run), new Capacity(4, 2048, 10_000), Map.of(),
                Duration.ofSeconds(1));
        // Probes every second, 3 s each, three misses make a guest unresponsive; restarts 1-2 s
        // apart; the record would only clear after 10 min of health, so the budget stays spent.
        var settings = new AgentSettings(d.node(), d.capacity(), d.labels(), d.workers(), d.longPollWait(),
                d.heartbeatInterval(), d.reportInterval(), d.resyncInterval(), d.waitRecheck(), Duration.ofSeconds(1),
                Duration.ofSeconds(3), 3, new ExponentialBackoff(Duration.ofSeconds(1), Duration.ofSeconds(2)),
                Duration.ofMinutes(10), d.passBackoff(), d.coordinatorBackoff(),
                new PlannerSettings(2, Duration.ofSeconds(10)));
        agent = new AgentService(settings, runtime, coordinator, InstantSource.system(),
                Optional.of(new RelayEndpoint(relay.url(), token.value())), Optional.of(dataDir.resolve("agent")));
        agent.start();
    }

    @AfterEach
    void cleanUp() {
        if (agent != null) {
            agent.close();
        }
        if (relay != null) {
            relay.close();
        }
        if (vms != null) {
            try {
                vms.destroy(id.value());
            } catch (RuntimeException ignored) {
                // not there
            }
        }
        if (dataDir != null) {
            VmHost.killQemusMentioning(dataDir.toString());
        }
        VmHost.deleteTree(dataDir);
    }

    @Test
    void unresponsiveGuestRestartedSecretsRefreshedCrashLoopFailed() throws Exception {
        want(Target.RUNNING, "first-" + run, "r1");
        awaitState(VmState.RUNNING);
        await().atMost(CONVERGE).until(() -> events().contains("created"));
        assertThat(secret()).isEqualTo("first-" + run);

        // (a) Freeze every guest-agent process (the mvm-init loop only restarts a dead one, not a
        // stopped one). The freezer runs detached after the exec has answered; "[a]" keeps its own
        // command line from matching.
        long bootPid = pid();
        var freeze = exec(List.of("sh", "-c", "setsid sh -c 'sleep 2; for p in /proc/[0-9]*; do "
                + "grep -q sbin/mvm-[a]gent $p/cmdline 2>/dev/null && kill -STOP ${p#/proc/}; done' "
                + "</dev/null >/dev/null 2>&1 &"));
        assertThat(freeze.status()).as(freeze.body().toString()).isEqualTo(200);
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> events().contains("restarted"));
        assertThat(events()).containsSubsequence("guest-unresponsive", "restarted");
        awaitState(VmState.RUNNING);
        assertThat(pid()).isNotEqualTo(bootPid);
        assertThat(exec(List.of("true")).body().get("exit_code").asInt()).isZero();

        // (c) A new secret value: sleep, then wake with the new spec; the guest sees the new value.
        want(Target.SLEEPING, "second-" + run, "r2");
        awaitState(VmState.SLEEPING);
        want(Target.RUNNING, "second-" + run, "r2");
        awaitState(VmState.RUNNING);
        await().atMost(CONVERGE).until(() -> events().contains("woken"));
        assertThat(secret()).isEqualTo("second-" + run);

        // (b) Restart 1 of 2 is spent. Kill the VMM: restart 2. Kill it again: the agent gives up.
        killVmmAndAwait(2);
        awaitState(VmState.RUNNING);
        ProcessHandle.of(pid()).orElseThrow().destroyForcibly();
        // A crashed VMM alone is already reported failed (with the VMM's exit); the decision to give
        // up is the "failed" event, and from then on the report carries its reason.
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> events().contains("failed"));
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() ->
                coordinator.report(id).filter(r -> r.state() == InstanceState.FAILED
                        && r.lastError().orElse("").contains("gave up after 2 restarts")).isPresent());
        // Given up means left alone: no third restart.
        Thread.sleep(5_000);
        assertThat(events().stream().filter("restarted"::equals)).hasSize(2);
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
    }

    private void killVmmAndAwait(int restarts) {
        ProcessHandle.of(pid()).orElseThrow().destroyForcibly();
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                events().stream().filter("restarted"::equals).count() >= restarts);
    }

    private void want(Target target, String secret, String revision) {
        coordinator.want(List.of(new DesiredInstance(new InstanceSpec(id, TenantId.of("acme"), PoolName.of("workers"),
                Role.WORKER, 1, 256, 16, new NetworkSpec("10.99.0.10", 24, "10.99.0.1", Optional.empty(), 1),
                List.of(), Map.of(), Map.of("api-token", secret), Map.of(), revision), target)));
    }

    private List<String> events() {
        return coordinator.events(id).stream().map(InstanceEvent::type).toList();
    }

    private void awaitState(VmState state) {
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                runtime.observe().stream().anyMatch(vm -> vm.id().equals(id) && vm.state() == state));
    }

    private long pid() {
        return runtime.observe().stream().filter(vm -> vm.id().equals(id)).findFirst().orElseThrow().pid().getAsLong();
    }

    private String secret() throws Exception {
        var reply = exec(List.of("cat", "/run/secrets/api-token"));
        assertThat(reply.body().get("exit_code").asInt()).as(reply.body().toString()).isZero();
        return new String(Base64.getDecoder().decode(reply.body().get("stdout_b64").asText()), StandardCharsets.UTF_8)
                .strip();
    }

    record Reply(int status, JsonNode body) {}

    private Reply exec(List<String> argv) throws Exception {
        var body = JSON.writeValueAsString(Map.of("argv", argv, "timeout_secs", 60));
        var request = HttpRequest.newBuilder(URI.create(relay.url() + "/v1/instances/" + id + "/exec"))
                .timeout(Duration.ofSeconds(120)).header("Authorization", "Bearer " + token.value())
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        var resp = http.send(request, HttpResponse.BodyHandlers.ofString());
        return new Reply(resp.statusCode(), JSON.readTree(resp.body()));
    }
}
