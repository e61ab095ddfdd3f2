package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.agent.proxy.ProxySettings;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
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
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Scale to zero on a real QEMU microVM behind the agent's route proxy, with real host networking
 * (own nftables table and net id): busybox httpd in the guest on port 8080, exposed on a host port
 * the node picks. The instance answers through the proxy while running; with nobody connecting it
 * is idled to warm and then to sleeping on the policy's schedule (events with reasons); 20
 * concurrent connections to the sleeping instance, each sending its request at once, all get the
 * guest's answer and cause exactly one wake; a wake that fails (its snapshot removed) closes the
 * held connection cleanly with an event.
 */
class ProxyWakeIT {
    private static final Duration CONVERGE = Duration.ofMinutes(4);

    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final String table = "mvm_p" + run;
    private final int netId = 20_000 + ThreadLocalRandom.current().nextInt(40_000);
    private final String subnetPrefix = "10." + (64 + ThreadLocalRandom.current().nextInt(60)) + "."
            + ThreadLocalRandom.current().nextInt(250) + ".";
    private final InstanceId id = InstanceId.of("px-" + run);

    private Path dataDir;
    private HostNetworkApplier applier;
    private LocalVms vms;
    private LocalInstanceRuntime runtime;
    private AgentService agent;
    private final ScriptedCoordinator coordinator = new ScriptedCoordinator();

    @BeforeEach
    void start() throws Exception {
        VmHost.require();
        var shared = VmHost.sharedImageDir();
        var image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var override = Optional.ofNullable(System.getenv("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
        var accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-proxy-it-");
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), VirtioSerialGuestChannel::connect,
                InstantSource.system()), InstantSource.system());
        applier = new HostNetworkApplier(HostCommands.onThisHost());
        runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.Host(applier, table, Optional.empty()), dataDir);
        runtime.recover();
        var settings = AgentSettings.defaults(NodeId.of("px-" + run), new Capacity(8, 4096, 10_000), Map.of(),
                Duration.ofSeconds(1));
        var proxy = ProxySettings.defaults().withBindAddress(InetAddress.getLoopbackAddress())
                .withLimits(64, Duration.ofSeconds(60));
        agent = new AgentService(settings, runtime, coordinator, InstantSource.system(), Optional.empty(),
                Optional.of(dataDir.resolve("agent")), proxy);
        agent.idle().linkCounters(io.mvm.agent.idle.LinkCounters.procNetDev());
        agent.start();
    }

    @AfterEach
    void cleanUp() {
        if (agent != null) {
            agent.close();
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
    void idlesToWarmThenSleepingAndWakesOnceForTwentyConnections() throws Exception {
        coordinator.want(List.of(desired()));
        await().atMost(CONVERGE).pollInterval(Duration.ofSeconds(1)).until(() -> state() == VmState.RUNNING);
        await().atMost(Duration.ofSeconds(10)).until(() -> !agent.routes().isEmpty()
                && agent.routes().getFirst().boundPort().isPresent());
        int port = agent.routes().getFirst().boundPort().getAsInt();
        assertThat(agent.routes().getFirst().target()).isEqualTo(subnetPrefix + "10:8080");

        // Running: spliced straight through (httpd may still be starting right after the boot).
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() ->
                get(port, "/").contains("hello-" + run));
        assertThat(agent.idle().wakes(id)).isZero();
        // The observed report names the bound host port.
        await().atMost(Duration.ofSeconds(10)).until(() -> coordinator.report(id).map(r -> !r.routes().isEmpty()
                && r.routes().getFirst().hostPort().orElse(-1) == port).orElse(false));

        // Requests straight to the guest's address (no route): its tap carries them, so it stays up
        // well past warm_after (3 s).
        long until = System.nanoTime() + Duration.ofSeconds(8).toNanos();
        while (System.nanoTime() < until) {
            assertThat(get(new InetSocketAddress(subnetPrefix + "10", 8080), "/")).contains("hello-" + run);
            Thread.sleep(200);
        }
        assertThat(events("idled")).as("its own link was busy all along").isEmpty();
        assertThat(state()).isEqualTo(VmState.RUNNING);

        // Nobody connects: warm after 3 s, sleeping after 6 s, each an event with its reason.
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(500)).until(() -> state() == VmState.WARM
                || state() == VmState.SLEEPING);
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(500)).until(() -> state() == VmState.SLEEPING);
        await().atMost(Duration.ofSeconds(10)).until(() -> events("idled").size() >= 2);
        var idled = events("idled");
        assertThat(idled.get(0).message()).matches("idle \\d+(\\.\\d)? s, \\d+ bytes, cpu [0-9.]+ % → warm");
        assertThat(idled.get(1).message()).endsWith("→ sleeping");
        assertThat(types()).containsSubsequence("idled", "paused", "idled", "slept");
        assertThat(VmHost.processesMentioning(dataDir.toString())).isEmpty();
        await().atMost(Duration.ofSeconds(10)).until(() -> coordinator.report(id)
                .flatMap(r -> r.idled()).orElse("").equals("sleeping"));
        // The coordinator's intent is still running: the reconciler leaves the idled instance be.
        Thread.sleep(3_000);
        assertThat(state()).isEqualTo(VmState.SLEEPING);

        // 20 concurrent connections to the sleeping instance, each sending its request at once.
        var answers = new ArrayList<CompletableFuture<String>>();
        for (int i = 0; i < 20; i++) {
            var path = "/?c=" + i;
            answers.add(CompletableFuture.supplyAsync(() -> get(port, path), r -> Thread.ofVirtual().start(r)));
        }
        for (var a : answers) {
            assertThat(a.get()).startsWith("HTTP/1.").contains(" 200 OK").contains("hello-" + run);
        }
        assertThat(agent.idle().wakes(id)).isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> events("woken").size() == 1);
        assertThat(events("wake-requested")).hasSize(1);
        assertThat(state()).isEqualTo(VmState.RUNNING);

        // Idle again, then a wake that cannot work: its snapshot is gone. The held connection is closed.
        await().atMost(CONVERGE).pollInterval(Duration.ofMillis(500)).until(() -> state() == VmState.SLEEPING
                && agent.idle().idledAs(id).orElse(null) == Target.SLEEPING);
        Files.delete(dataDir.resolve("vms").resolve(id.value()).resolve("snapshot.bin"));
        try (var s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            s.setSoTimeout(60_000);
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> !events("wake-failed").isEmpty()
                && !events("connection-dropped").isEmpty());
        assertThat(events("wake-failed").getFirst().message()).contains("no snapshot");
        assertThat(events("connection-dropped").getFirst().message()).contains("the wake failed");
    }

    private DesiredInstance desired() {
        var spec = new InstanceSpec(id, TenantId.of("px" + run), PoolName.of("web"), Role.WORKER, 1, 256, 16,
                new NetworkSpec(subnetPrefix + "10", 24, subnetPrefix + "1", Optional.empty(), netId),
                List.of("sh", "-c", "mkdir -p /tmp/www && echo hello-" + run + " > /tmp/www/index.html"
                        + " && exec httpd -f -p 8080 -h /tmp/www"),
                Map.of(), Map.of(), Map.of(), "r1");
        var idle = new IdlePolicy(Duration.ofSeconds(3), Duration.ofSeconds(6), Duration.ofSeconds(2), 0.5);
        return new DesiredInstance(spec, Target.RUNNING,
                new Exposure(List.of(PortMapping.tcp(8080, 0)), Optional.of(idle)));
    }

    private VmState state() {
        return runtime.observe().stream().filter(vm -> vm.id().equals(id)).map(vm -> vm.state()).findFirst()
                .orElse(null);
    }

    private List<InstanceEvent> events(String type) {
        return coordinator.events(id).stream().filter(e -> e.type().equals(type)).toList();
    }

    private List<String> types() {
        return coordinator.events(id).stream().map(InstanceEvent::type).toList();
    }

    /** An HTTP/1.0 GET through the route; the request is written right after the connect. */
    private static String get(int port, String path) {
        return get(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), path);
    }

    private static String get(InetSocketAddress to, String path) {
        try (var s = new Socket()) {
            s.connect(to, 5_000);
            s.setSoTimeout(90_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "error " + e;
        }
    }
}
