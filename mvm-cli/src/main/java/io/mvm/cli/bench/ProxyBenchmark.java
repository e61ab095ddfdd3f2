package io.mvm.cli.bench;

import io.mvm.agent.AgentService;
import io.mvm.agent.AgentSettings;
import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.local.AgentNetwork;
import io.mvm.agent.local.LocalInstanceRuntime;
import io.mvm.agent.proxy.ProxySettings;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.Target;
import io.mvm.core.reconcile.VmState;
import io.mvm.core.scale.Exposure;
import io.mvm.core.scale.IdlePolicy;
import io.mvm.core.scale.PortMapping;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.hostnet.HostCommands;
import io.mvm.runtime.hostnet.HostNetworkApplier;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Time to first byte of an HTTP answer from busybox {@code httpd} in a real microVM: direct to the
 * guest's tenant address, and through the agent's route proxy while the instance runs, after the
 * idle policy paused it (warm) and after it put it to sleep (sleeping), plus one cold boot to the
 * first answer. All in one process with a real agent, real host networking (a table and bridge of
 * this run's own) and an in-process coordinator that only states the desired instance.
 */
public final class ProxyBenchmark {
    /** Milliseconds per run and their median/min. */
    public record Series(List<Double> valuesMs, double medianMs, double minMs) {
        static Series of(List<Double> values) {
            return new Series(List.copyOf(values), BenchStatistics.median(values), BenchStatistics.min(values));
        }
    }

    /**
     * Ratios are of medians. Goals (issue 13): running via proxy ≤ 1.1× direct, warm ≤ 50 ms p50,
     * sleeping ≤ 0.2× a cold boot.
     */
    public record Result(String accelerator, int hostCpus, int runs, Series direct, Series running, Series warm,
                         Series sleeping, double coldBootToFirstByteMs, double runningOverDirect,
                         double sleepingOverColdBoot, int wakes) {}

    private final LocalVms vms;
    private final GuestImage image;
    private final Accelerator accelerator;
    private final Path dataDir;
    private final Consumer<String> progress;

    public ProxyBenchmark(LocalVms vms, GuestImage image, Accelerator accelerator, Path dataDir,
                          Consumer<String> progress) {
        this.vms = vms;
        this.image = image;
        this.accelerator = accelerator;
        this.dataDir = dataDir;
        this.progress = progress;
    }

    public Result run(int runs) throws IOException {
        String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        String table = "mvm_bp" + run;
        int netId = 20_000 + ThreadLocalRandom.current().nextInt(40_000);
        String prefix = "10." + (64 + ThreadLocalRandom.current().nextInt(60)) + "."
                + ThreadLocalRandom.current().nextInt(250) + ".";
        InstanceId id = InstanceId.of("bp-" + run);
        // Answers must carry it: on some hosts an unrouted address is answered by a transparent proxy.
        String marker = "hello-" + run;
        var applier = new HostNetworkApplier(HostCommands.onThisHost());
        var runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.Host(applier, table, Optional.empty()),
                dataDir);
        var spec = new InstanceSpec(id, TenantId.of("bp" + run), PoolName.of("web"), Role.WORKER, 1, 256, 16,
                new NetworkSpec(prefix + "10", 24, prefix + "1", Optional.empty(), netId),
                List.of("sh", "-c", "mkdir -p /tmp/www && echo " + marker + " > /tmp/www/index.html"
                        + " && exec httpd -f -p 8080 -h /tmp/www"), Map.of(), Map.of(), Map.of(), "r1");
        var idle = new IdlePolicy(Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(1), 0.5);
        var desired = new DesiredInstance(spec, Target.RUNNING,
                new Exposure(List.of(PortMapping.tcp(8080, 0)), Optional.of(idle)));
        var settings = AgentSettings.defaults(NodeId.of("bench-" + run), new Capacity(4, 4096, 10_000), Map.of(),
                Duration.ofSeconds(1));
        var agent = new AgentService(settings, runtime, new OneInstance(desired), InstantSource.system(),
                Optional.empty(), Optional.of(dataDir.resolve("agent")),
                ProxySettings.defaults().withBindAddress(InetAddress.getLoopbackAddress())
                        .withLimits(16, Duration.ofSeconds(120)));
        var direct = new InetSocketAddress(prefix + "10", 8080);
        try {
            long t0 = System.nanoTime();
            agent.start();
            progress.accept("booting " + id + " (cold boot to the first HTTP answer)");
            until(Duration.ofMinutes(5), () -> ttfb(direct, Duration.ofSeconds(2), marker) >= 0);
            double cold = (System.nanoTime() - t0) / 1e6;
            until(Duration.ofSeconds(30), () -> !agent.routes().isEmpty() && agent.routes().getFirst().boundPort()
                    .isPresent());
            var proxy = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    agent.routes().getFirst().boundPort().getAsInt());
            var d = new ArrayList<Double>();
            var r = new ArrayList<Double>();
            for (int i = 0; i < runs + 1; i++) {
                double a = ttfb(direct, Duration.ofSeconds(30), marker);
                double b = ttfb(proxy, Duration.ofSeconds(30), marker);
                if (i > 0) { // the first pair warms caches on both paths
                    d.add(a);
                    r.add(b);
                }
            }
            var w = new ArrayList<Double>();
            for (int i = 0; i < runs; i++) {
                progress.accept("warm run " + (i + 1) + "/" + runs + ": waiting for the idle policy to pause it");
                until(Duration.ofMinutes(2), () -> agent.idle().idledAs(id).orElse(null) == Target.WARM
                        && state(runtime, id) == VmState.WARM);
                w.add(ttfb(proxy, Duration.ofSeconds(120), marker));
            }
            var s = new ArrayList<Double>();
            for (int i = 0; i < runs; i++) {
                progress.accept("sleeping run " + (i + 1) + "/" + runs + ": waiting for the idle policy to sleep it");
                until(Duration.ofMinutes(3), () -> agent.idle().idledAs(id).orElse(null) == Target.SLEEPING
                        && state(runtime, id) == VmState.SLEEPING);
                s.add(ttfb(proxy, Duration.ofSeconds(120), marker));
            }
            if (d.stream().anyMatch(x -> x < 0) || r.stream().anyMatch(x -> x < 0) || w.stream().anyMatch(x -> x < 0)
                    || s.stream().anyMatch(x -> x < 0)) {
                throw MvmException.internal("a request got no answer (direct " + d + ", running " + r + ", warm " + w
                        + ", sleeping " + s + ")", null);
            }
            var direct1 = Series.of(d);
            var running = Series.of(r);
            var sleeping = Series.of(s);
            return new Result(accelerator.wireName(), Runtime.getRuntime().availableProcessors(), runs, direct1,
                    running, Series.of(w), sleeping, cold, running.medianMs() / direct1.medianMs(),
                    sleeping.medianMs() / cold, agent.idle().wakes(id));
        } finally {
            agent.close();
            try {
                vms.destroy(id.value());
            } catch (RuntimeException e) {
                progress.accept("cleanup: " + e.getMessage());
            }
            try {
                applier.removeAll(table);
            } catch (RuntimeException e) {
                progress.accept("cleanup: " + e.getMessage());
            }
        }
    }

    private static VmState state(LocalInstanceRuntime runtime, InstanceId id) {
        return runtime.observe().stream().filter(vm -> vm.id().equals(id)).map(vm -> vm.state()).findFirst()
                .orElse(null);
    }

    /** Milliseconds from connect to the first byte of the answer; -1 when none came or it lacks {@code marker}. */
    static double ttfb(InetSocketAddress to, Duration timeout, String marker) {
        long start = System.nanoTime();
        try (var socket = new Socket()) {
            socket.connect(to, (int) Math.min(timeout.toMillis(), 5_000));
            socket.setSoTimeout((int) timeout.toMillis());
            socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            int first = socket.getInputStream().read();
            double ms = (System.nanoTime() - start) / 1e6;
            String rest = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return first < 0 || !rest.contains(marker) ? -1 : ms;
        } catch (IOException e) {
            return -1;
        }
    }

    private static void until(Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw MvmException.unavailable("the benchmark's VM did not get there within " + limit.toSeconds() + " s",
                        null);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw MvmException.unavailable("interrupted", e);
            }
        }
    }

    /** The coordinator of the benchmark: one instance, wanted running; reports are dropped. */
    private static final class OneInstance implements CoordinatorClient {
        private final DesiredInstance instance;

        OneInstance(DesiredInstance instance) {
            this.instance = instance;
        }

        @Override
        public Registration register(NodeRegistration r) {
            return new Registration(r.node(), Optional.empty(), Duration.ofSeconds(10));
        }

        @Override
        public void heartbeat(NodeId node, int instanceCount) {}

        @Override
        public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
            if (afterGeneration.isPresent()) {
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw MvmException.unavailable("interrupted", e);
                }
            }
            return DesiredSnapshot.confirmed(1, List.of(instance));
        }

        @Override
        public void reportObserved(NodeId node, ObservedReport report) {}
    }
}
