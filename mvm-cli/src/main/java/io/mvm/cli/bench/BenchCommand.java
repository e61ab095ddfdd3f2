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
        subcommands = {BenchCommand.Boot.class, BenchCommand.Clone.class, BenchCommand.Proxy.class})
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
            Path scratch = Files.createTempDirectory("mvm-bench-clone-");
            try {
                Path benchData = Files.createDirectories(scratch.resolve("data"));
                LocalVms vms = LocalRuntime.open(benchData, dir, Optional.of(image));
                var accelerator = vms.backend().fingerprint().accelerator();
                CloneBenchmark.Result result = new CloneBenchmark(vms, image, accelerator, scratch, memoryMib,
                        line -> System.err.println("mvm: " + line)).run(warmup, runs, density, sizes, sleepCycles);
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
}
