package io.mvm.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mvm.cli.DataDirOption;
import io.mvm.cli.vm.LocalRuntime;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.state.DirectoryTree;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mvm bench ...}: measurements, never pass/fail assertions. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = {BenchCommand.Boot.class, BenchCommand.Clone.class, BenchCommand.Warm.class, BenchCommand.Proxy.class,
                BenchCommand.Fleet.class})
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "boot", description = "Bare QEMU vs mvm cold start vs wake from snapshot, to guest ready; writes JSON.")
    static final class Boot implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Option(names = "--runs", defaultValue = "5", description = "Measured alternating runs (default ${DEFAULT-VALUE}; 11 or more to compare against a goal).") int runs;
        @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs first (default ${DEFAULT-VALUE}).") int warmup;
        @Option(names = "--out", paramLabel = "FILE.json", description = "Write the results here (default: stdout only).") Path out;
        @Option(names = "--template", paramLabel = "NAME", description = "Clone this template's golden snapshot (mvm template build "
                + "--snapshot) instead of booting and saving one; clones and cold boots use its image, vCPUs and memory (--mem is ignored).")
        String template;

        @Override
        public Integer call() throws IOException {
            if (runs < 1 || runs > 100) {
                throw MvmException.invalid("--runs must be between 1 and 100");
            }
            if (warmup < 0 || warmup > 10) {
                throw MvmException.invalid("--warmup must be between 0 and 10");
            }
            Path dir = dataDir.resolve();
            GuestImage image = ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message));
            Path scratch = Files.createTempDirectory("mvm-bench-");
            try {
                // VMs of the benchmark live in their own data dir so they never mix with real ones.
                Path benchData = Files.createDirectories(scratch.resolve("data"));
                LocalVms vms = LocalRuntime.open(benchData, dir, Optional.of(image));
                var accelerator = vms.backend().fingerprint().accelerator();
                BootBenchmark.Result result = new BootBenchmark(vms, image, accelerator, scratch,
                        line -> System.err.println("mvm: " + line)).run(warmup, runs);
                String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
                if (out != null) {
                    Files.writeString(out, json + "\n");
                }
                System.out.println(json);
                return 0;
            } finally {
                DirectoryTree.deleteQuietly(scratch);
            }
        }
    }

    @Command(name = "fleet", description = "The real coordinator with simulated hosts (agent protocol, no VMs): time to"
            + " place every instance from an empty fleet, API p50/p99 meanwhile, time to reschedule after 10% of the hosts"
            + " are lost, heap and CPU; at 100 hosts and at --hosts, to show how each figure grows; writes JSON.")
    static final class Fleet implements Callable<Integer> {
        @Option(names = "--hosts", defaultValue = "100", description = "Simulated hosts (default ${DEFAULT-VALUE}).") int hosts;
        @Option(names = "--vms-per-host", defaultValue = "10", description = "Instances per host (default ${DEFAULT-VALUE}).") int vmsPerHost;
        @Option(names = "--tenants", description = "Tenants, one pool each (default: one per 100 instances, at least 10).") Integer tenants;
        @Option(names = "--coordinators", defaultValue = "1", description = "Coordinators serving the fleet (default ${DEFAULT-VALUE}).") int coordinators;
        @Option(names = "--db", paramLabel = "URL", description = "postgresql://user:pass@host:port/db (an empty database) or a SQLite "
                + "file path (default: a SQLite file in a temporary directory).") String db;
        @Option(names = "--parallel-agents", defaultValue = "8", description = "Simulated agents stepping at once (default ${DEFAULT-VALUE}).") int parallel;
        @Option(names = "--seed", defaultValue = "1", description = "Seed of the simulation (default ${DEFAULT-VALUE}).") long seed;
        @Option(names = "--no-baseline", description = "Only --hosts, not also 100 hosts first.") boolean noBaseline;
        @Option(names = "--out", paramLabel = "FILE.json", description = "Write the results here (default: stdout only).") Path out;

        @Override
        public Integer call() throws IOException {
            if (hosts < 1 || hosts > 10_000) {
                throw MvmException.invalid("--hosts must be 1-10000");
            }
            if (vmsPerHost < 1 || vmsPerHost > 250) {
                throw MvmException.invalid("--vms-per-host must be 1-250");
            }
            if (coordinators != 1) {
                // Several coordinators need the leader lease (issue 14, "Several coordinators").
                throw MvmException.invalid("--coordinators: only 1 is supported so far (several coordinators need the"
                        + " leader lease)");
            }
            if (parallel < 1 || parallel > 256) {
                throw MvmException.invalid("--parallel-agents must be 1-256");
            }
            if (db != null && hosts > 100 && !noBaseline) {
                // Each size needs an empty database of its own.
                throw MvmException.invalid("with --db, run one size at a time on an empty database (--no-baseline)");
            }
            List<Integer> sizes = hosts > 100 && !noBaseline ? List.of(100, hosts) : List.of(hosts);
            List<io.mvm.cli.bench.fleet.FleetBenchmark.SizeResult> results = new java.util.ArrayList<>();
            var bench = new io.mvm.cli.bench.fleet.FleetBenchmark(line -> System.err.println("mvm: " + line));
            for (int size : sizes) {
                int t = tenants != null ? tenants : Math.max(10, size * vmsPerHost / 100);
                Path scratch = Files.createTempDirectory("mvm-bench-fleet-");
                try {
                    var url = db == null
                            ? io.mvm.store.db.DatabaseUrl.parse(scratch.resolve("mvm.db").toString())
                            : io.mvm.store.db.DatabaseUrl.parse(db);
                    results.add(bench.runSize(size, vmsPerHost, t, parallel, seed, url, scratch));
                } finally {
                    DirectoryTree.deleteQuietly(scratch);
                }
            }
            var result = new io.mvm.cli.bench.fleet.FleetBenchmark.Result("One JVM: the coordinator and " + parallel
                    + " agents stepping at once share its heap and CPU, so heap and CPU are upper bounds for the"
                    + " coordinator. Rounds are 2 s of coordinator time; a host is lost after 10 s of silence, so"
                    + " rescheduling includes that wait in coordinator time (reschedule_coordinator_seconds), not in"
                    + " wall time.", results, io.mvm.cli.bench.fleet.FleetBenchmark.growth(results));
            String json = new ObjectMapper().setPropertyNamingStrategy(
                            com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE)
                    .enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
            if (out != null) {
                Files.writeString(out, json + "\n");
            }
            System.out.println(json);
            return 0;
        }
    }

    @Command(name = "proxy", description = "Time to first byte of an HTTP answer through the route proxy for a"
            + " running, a warm and a sleeping instance vs direct to the guest, and a cold boot; writes JSON. Needs"
            + " host networking (root).")
    static final class Proxy implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Option(names = "--runs", defaultValue = "5", description = "Measured runs per case (default ${DEFAULT-VALUE}).") int runs;
        @Option(names = "--out", paramLabel = "FILE.json", description = "Write the results here (default: stdout only).") Path out;

        @Override
        public Integer call() throws IOException {
            if (runs < 1 || runs > 50) {
                throw MvmException.invalid("--runs must be between 1 and 50");
            }
            Path dir = dataDir.resolve();
            GuestImage image = ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message));
            Path scratch = Files.createTempDirectory("mvm-bench-proxy-");
            try {
                Path benchData = Files.createDirectories(scratch.resolve("data"));
                LocalVms vms = LocalRuntime.open(benchData, dir, Optional.of(image));
                var accelerator = vms.backend().fingerprint().accelerator();
                ProxyBenchmark.Result result = new ProxyBenchmark(vms, image, accelerator, benchData,
                        line -> System.err.println("mvm: " + line)).run(runs);
                String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
                if (out != null) {
                    Files.writeString(out, json + "\n");
                }
                System.out.println(json);
                return 0;
            } finally {
                DirectoryTree.deleteQuietly(scratch);
            }
        }
    }

    @Command(name = "clone", description = "Clone from a golden snapshot vs cold boot of the same image, and the memory of "
            + "10 clones vs 10 cold-booted VMs (PSS); writes JSON.")
    static final class Clone implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Option(names = "--runs", defaultValue = "5", description = "Measured alternating runs (default ${DEFAULT-VALUE}; 11 or more to compare against a goal).") int runs;
        @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs first (default ${DEFAULT-VALUE}).") int warmup;
        @Option(names = "--density", defaultValue = "10", description = "VMs of each kind for the PSS comparison, 0 to skip (default ${DEFAULT-VALUE}).") int density;
        @Option(names = "--mem", defaultValue = "256", paramLabel = "MiB", description = "Guest memory (default ${DEFAULT-VALUE}).") int memoryMib;
        @Option(names = "--sleep-sizes", defaultValue = "256,1024", split = ",", paramLabel = "MiB",
                description = "Guest sizes for sleep/wake of file-backed vs ordinary RAM, 0 to skip (default ${DEFAULT-VALUE}).") List<Integer> sleepSizes;
        @Option(names = "--sleep-cycles", defaultValue = "3", description = "Sleep/wake cycles per size and kind (default ${DEFAULT-VALUE}).") int sleepCycles;
        @Option(names = "--out", paramLabel = "FILE.json", description = "Write the results here (default: stdout only).") Path out;
        @Option(names = "--template", paramLabel = "NAME", description = "Clone this template's golden snapshot (mvm template build "
                + "--snapshot) instead of booting and saving one; clones and cold boots use its image, vCPUs and memory (--mem is ignored).")
        String template;

        @Override
        public Integer call() throws IOException {
            if (runs < 1 || runs > 100) {
                throw MvmException.invalid("--runs must be between 1 and 100");
            }
            if (warmup < 0 || warmup > 10) {
                throw MvmException.invalid("--warmup must be between 0 and 10");
            }
            if (density < 0 || density > 50) {
                throw MvmException.invalid("--density must be between 0 and 50");
            }
            io.mvm.runtime.backend.VmSpec.checkResources(1, memoryMib);
            List<Integer> sizes = sleepSizes.stream().filter(size -> size != 0).toList();
            sizes.forEach(size -> io.mvm.runtime.backend.VmSpec.checkResources(1, size));
            if (sleepCycles < 1 || sleepCycles > 20) {
                throw MvmException.invalid("--sleep-cycles must be between 1 and 20");
            }
            Path dir = dataDir.resolve();
            GuestImage image = ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message));
            Optional<CloneBenchmark.TemplateSnapshot> templateSnapshot = Optional.empty();
            if (template != null) {
                var store = new io.mvm.runtime.template.TemplateStore(dir, java.time.InstantSource.system());
                var current = store.currentRevision(new io.mvm.core.template.TemplateId(template)).orElseThrow(() -> MvmException.notFound(
                        "template " + template + " has no intact built revision on this host (mvm template build FILE --on-host)"));
                var plan = io.mvm.runtime.template.TemplateStart.plan(current, io.mvm.runtime.backend.VmSpec.builder("bench-check", current.image())
                        .vcpus(current.revision().vcpus()).memoryMib(current.revision().memMib()).build(),
                        LocalRuntime.open(dir, Optional.of(current.image())).backend());
                if (plan instanceof io.mvm.runtime.template.TemplateStart.Plan.ColdBoot cold) {
                    throw MvmException.precondition("cannot benchmark clones of template " + template + ": " + cold.reason());
                }
                var golden = ((io.mvm.runtime.template.TemplateStart.Plan.Clone) plan).golden();
                templateSnapshot = Optional.of(new CloneBenchmark.TemplateSnapshot(template, golden));
                image = current.image();
                memoryMib = (int) golden.info().memoryMib();
            }
            Path scratch = Files.createTempDirectory("mvm-bench-clone-");
            try {
                Path benchData = Files.createDirectories(scratch.resolve("data"));
                LocalVms vms = LocalRuntime.open(benchData, dir, Optional.of(image));
                var accelerator = vms.backend().fingerprint().accelerator();
                CloneBenchmark.Result result = new CloneBenchmark(vms, image, accelerator, scratch, memoryMib,
                        line -> System.err.println("mvm: " + line), templateSnapshot).run(warmup, runs, density, sizes, sleepCycles);
                String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
                if (out != null) {
                    Files.writeString(out, json + "\n");
                }
                System.out.println(json);
                return 0;
            } finally {
                DirectoryTree.deleteQuietly(scratch);
            }
        }
    }

    @Command(name = "warm", description = "POST /vms served by a warm VM (claim) vs a cold boot, through a real coordinator "
            + "and agent started for the run; writes JSON.")
    static final class Warm implements Callable<Integer> {
        @Mixin DataDirOption dataDir;
        @Option(names = "--runs", defaultValue = "5", description = "Measured alternating runs (default ${DEFAULT-VALUE}; 11 or more to compare against a goal).") int runs;
        @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs first (default ${DEFAULT-VALUE}).") int warmup;
        @Option(names = "--mem", defaultValue = "128", paramLabel = "MiB", description = "Guest memory (default ${DEFAULT-VALUE}).") int memoryMib;
        @Option(names = "--network", defaultValue = "host", paramLabel = "host|none",
                description = "host: claims move taps onto tenant bridges (nftables table mvmbench); none: VMs without a NIC (default ${DEFAULT-VALUE}).")
        String network;
        @Option(names = "--out", paramLabel = "FILE.json", description = "Write the results here (default: stdout only).") Path out;

        @Override
        public Integer call() throws IOException {
            if (runs < 1 || runs > 100) {
                throw MvmException.invalid("--runs must be between 1 and 100");
            }
            if (warmup < 0 || warmup > 10) {
                throw MvmException.invalid("--warmup must be between 0 and 10");
            }
            io.mvm.runtime.backend.VmSpec.checkResources(1, memoryMib);
            Path dir = dataDir.resolve();
            GuestImage image = ImageBuilder.ensureDefaultImage(dir, message -> System.err.println("mvm: " + message));
            Path scratch = Files.createTempDirectory("mvm-bench-warm-");
            io.mvm.coordinator.Coordinator coordinator = null;
            io.mvm.cli.agent.NodeAgent agent = null;
            try {
                // A fleet of one of its own: its database, VMs and network never mix with real ones.
                coordinator = io.mvm.coordinator.Coordinator.start(io.mvm.coordinator.CoordinatorConfig
                        .defaults(scratch.resolve("coordinator")).withListen("127.0.0.1", 0)
                        .withHousekeepingInterval(java.time.Duration.ofMillis(500)));
                java.net.URI url = java.net.URI.create("http://127.0.0.1:" + coordinator.port());
                var node = io.mvm.model.NodeId.of("bench-warm");
                agent = io.mvm.cli.agent.NodeAgent.start(new io.mvm.cli.agent.NodeAgent.Config(
                        Files.createDirectories(scratch.resolve("agent")), dir, url, coordinator.issueNodeToken(node),
                        node, io.mvm.cli.agent.NodeAgent.defaultCapacity(dir), java.util.Map.of(),
                        java.time.Duration.ofSeconds(1), io.mvm.cli.agent.NodeAgent.parseListen("127.0.0.1:0"), network,
                        "mvmbench"), message -> System.err.println("mvm: " + message));
                var api = new io.mvm.cli.client.CoordinatorClient(java.net.URI.create(url + "/"),
                        Files.readString(coordinator.adminTokenFile()).strip());
                WarmBenchmark.Result result = new WarmBenchmark(api, agent.accelerator().wireName(), network, memoryMib,
                        line -> System.err.println("mvm: " + line)).run(warmup, runs);
                String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result);
                if (out != null) {
                    Files.writeString(out, json + "\n");
                }
                System.out.println(json);
                return 0;
            } finally {
                if (agent != null) {
                    agent.close();
                    agent.stopAllVms();
                    agent.runtime().removeNetwork();
                }
                if (coordinator != null) {
                    coordinator.stop();
                }
                DirectoryTree.deleteQuietly(scratch);
            }
        }
    }
}
