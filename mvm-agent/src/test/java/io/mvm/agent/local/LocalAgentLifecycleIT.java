package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.coordinator.RelayEndpoint;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.relay.AgentToken;
import io.mvm.agent.relay.RelayServer;
import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
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
import io.mvm.runtime.hostnet.HostCommands;
import io.mvm.runtime.hostnet.HostNetworkApplier;
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
 * The agent over the real runtime, driven by a scripted desired state: two real QEMU microVMs on a
 * real tenant bridge with taps and an nftables table of this run's own name. Covers the pool
 * lifecycle running → warm (paused, VMM alive) → sleeping (snapshot on disk, VMM gone) → running
 * (restored: a marker in the guest's tmpfs /tmp survives, which a cold boot would lose), the relay
 * server (exec with exit code, logs, 401/404/409), a VMM killed with -9 being restarted with an
 * event, and destroy removing VMs, taps and the bridge.
 */
class LocalAgentLifecycleIT {
    private static final Duration CONVERGE = Duration.ofMinutes(6);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final String table = "mvm_a" + run;
    private final int netId = 20_000 + ThreadLocalRandom.current().nextInt(40_000);
    private final String subnetPrefix = "10." + (64 + ThreadLocalRandom.current().nextInt(60)) + "."
            + ThreadLocalRandom.current().nextInt(250) + ".";
    private final TenantId tenant = TenantId.of("acme");
    private final InstanceId w1 = InstanceId.of("lw1-" + run);
    private final InstanceId w2 = InstanceId.of("lw2-" + run);

    private Path dataDir;
    private HostNetworkApplier applier;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private RelayServer relay;
    private AgentToken token;
    private AgentService agent;
    private final ScriptedCoordinator coordinator = new ScriptedCoordinator();
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-agent-it-");
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), VirtioSerialGuestChannel::connect,
                InstantSource.system()), InstantSource.system());
        applier = new HostNetworkApplier(HostCommands.onThisHost());
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.Host(applier, table, Optional.empty()), dataDir);
        runtime.recover();
        token = AgentToken.createIn(dataDir);
        relay = RelayServer.start(new InetSocketAddress("127.0.0.1", 0), runtime, token);
        var settings = AgentSettings.defaults(NodeId.of("it-" + run), new Capacity(8, 4096, 10_000), Map.of(),
                Duration.ofSeconds(1));
        agent = new AgentService(settings, runtime, coordinator, InstantSource.system(),
                Optional.of(new RelayEndpoint(relay.url(), token.value())));
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
            for (var id : List.of(w1, w2)) {
                try {
                    vms.destroy(id.value());
                } catch (RuntimeException ignored) {
                    // not there
                }
            }
        }
        if (dataDir != null) {
            VmHost.killQemusMentioning(dataDir.toString());
        }
        if (applier != null) {
            try {
                applier.removeAll(table);
            } catch (RuntimeException ignored) {
                // nothing left
            }
        }
        VmHost.deleteTree(dataDir);
    }

    @Test
    void runsPausesSleepsWakesRestartsAndDestroysRealVms() throws Exception {
        // Registration carries the relay endpoint, and the token file is private.
        await().atMost(Duration.ofSeconds(30)).until(() -> coordinator.registration() != null);
        assertThat(coordinator.registration().relay()).contains(new RelayEndpoint(relay.url(), token.value()));
        assertThat(Files.getPosixFilePermissions(dataDir.resolve("agent/agent.token")))
                .extracting(Object::toString).containsExactlyInAnyOrder("OWNER_READ", "OWNER_WRITE");

        want(Target.RUNNING);
        awaitStates(VmState.RUNNING);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                coordinator.events(w1).stream().anyMatch(e -> e.type().equals("created")));
        assertThat(link(DeviceNames.tap(w1))).isTrue();
        assertThat(link(DeviceNames.bridge(netId))).isTrue();
        assertThat(applier.verify(HostNetworkPlan.of(table, Optional.empty(), runtime.readRecords()))).isEmpty();
        // Both created at once, both on the tenant bridge: the guests reach each other.
        var ping = exec(w1, List.of("ping", "-c", "3", "-W", "3", subnetPrefix + "11"));
        assertThat(ping.body().get("exit_code").asInt()).as(text(ping.body(), "stdout_b64")).isZero();

        // Relay: exec with output and exit code, errors mapped, logs.
        var uname = exec(w1, List.of("uname", "-s"));
        assertThat(uname.status()).isEqualTo(200);
        assertThat(text(uname.body(), "stdout_b64")).contains("Linux");
        assertThat(exec(w1, List.of("sh", "-c", "echo oops >&2; exit 3")).body().get("exit_code").asInt()).isEqualTo(3);
        assertThat(exec(w1, List.of("sh", "-c", "ip -4 addr show eth0")).body().get("stdout_b64").asText())
                .satisfies(b64 -> assertThat(new String(Base64.getDecoder().decode(b64))).contains(subnetPrefix + "10/24"));
        assertThat(request("POST", "/v1/instances/" + w1 + "/exec", "{\"argv\":[\"true\"]}", "wrong").statusCode())
                .isEqualTo(401);
        assertThat(request("POST", "/v1/instances/nope-" + run + "/exec", "{\"argv\":[\"true\"]}", token.value())
                .statusCode()).isEqualTo(404);
        var logs = request("GET", "/v1/instances/" + w1 + "/logs?lines=50", null, token.value());
        assertThat(logs.statusCode()).isEqualTo(200);
        assertThat(logs.body()).contains("mvm-guest-ready");

        // A marker in the guest's memory-backed /tmp.
        assertThat(exec(w1, List.of("sh", "-c", "echo before-sleep-" + run + " > /tmp/marker")).body()
                .get("exit_code").asInt()).isZero();

        want(Target.WARM);
        awaitStates(VmState.WARM);
        assertThat(VmHost.processesMentioning(dataDir.toString())).hasSize(2);
        assertThat(vms.status(w1.value()).state()).isEqualTo(InstanceState.WARM);
        assertThat(request("POST", "/v1/instances/" + w1 + "/exec", "{\"argv\":[\"true\"]}", token.value())
                .statusCode()).isEqualTo(409);

        want(Target.SLEEPING);
        awaitStates(VmState.SLEEPING);
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
        assertThat(dataDir.resolve("vms").resolve(w1.value()).resolve("snapshot.bin")).isRegularFile();
        assertThat(dataDir.resolve("vms").resolve(w2.value()).resolve("snapshot.bin")).isRegularFile();

        want(Target.RUNNING);
        awaitStates(VmState.RUNNING);
        // Events reach the coordinator with the next report, a moment after the VM runs.
        await().atMost(Duration.ofSeconds(30)).until(() ->
                coordinator.events(w1).stream().anyMatch(e -> e.type().equals("woken")));
        assertThat(coordinator.events(w1)).extracting(InstanceEvent::type)
                .containsSubsequence("created", "paused", "slept", "woken")
                .filteredOn("created"::equals).hasSize(1);
        assertThat(text(exec(w1, List.of("cat", "/tmp/marker")).body(), "stdout_b64")).contains("before-sleep-" + run);

        // kill -9 the VMM of w2: the health monitor sees it, the reconciler restarts it, events say so.
        long oldPid = pid(w2);
        ProcessHandle.of(oldPid).orElseThrow().destroyForcibly();
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() ->
                coordinator.events(w2).stream().anyMatch(e -> e.type().equals("restarted")));
        awaitStates(VmState.RUNNING);
        assertThat(pid(w2)).isNotEqualTo(oldPid);
        assertThat(coordinator.events(w2)).extracting(InstanceEvent::type).contains("vmm-exited", "restarted");

        want(Target.DESTROYED);
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> runtime.observe().isEmpty());
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
        assertThat(link(DeviceNames.tap(w1))).isFalse();
        assertThat(link(DeviceNames.bridge(netId))).isFalse();
    }

    private void want(Target target) {
        coordinator.want(List.of(new DesiredInstance(spec(w1, 10), target), new DesiredInstance(spec(w2, 11), target)));
    }

    private InstanceSpec spec(InstanceId id, int host) {
        return new InstanceSpec(id, tenant, PoolName.of("workers"), Role.WORKER, 1, 256, 16,
                new NetworkSpec(subnetPrefix + host, 24, subnetPrefix + "1", Optional.empty(), netId),
                List.of(), Map.of("MODE", "test"), Map.of("api-token", "s3cr3t"), Map.of(), "r1");
    }

    private void awaitStates(VmState state) {
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> {
            var states = runtime.observe().stream().map(vm -> Map.entry(vm.id(), vm.state())).toList();
            return states.size() == 2 && states.stream().allMatch(e -> e.getValue() == state);
        });
    }

    private long pid(InstanceId id) {
        return runtime.observe().stream().filter(vm -> vm.id().equals(id)).findFirst().orElseThrow().pid().getAsLong();
    }

    private static boolean link(String name) {
        return HostCommands.onThisHost().run(List.of("ip", "link", "show", "dev", name), "").ok();
    }

    record Reply(int status, JsonNode body) {}

    private Reply exec(InstanceId id, List<String> argv) throws Exception {
        var body = JSON.writeValueAsString(Map.of("argv", argv, "timeout_secs", 60));
        var resp = request("POST", "/v1/instances/" + id + "/exec", body, token.value());
        return new Reply(resp.statusCode(), JSON.readTree(resp.body()));
    }

    private static String text(JsonNode body, String field) {
        return new String(Base64.getDecoder().decode(body.get(field).asText()), StandardCharsets.UTF_8);
    }

    private HttpResponse<String> request(String method, String path, String body, String bearer) throws Exception {
        var b = HttpRequest.newBuilder(URI.create(relay.url() + path)).timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + bearer);
        b = body == null ? b.GET() : b.method(method, HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
