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
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mvm bench ...}: measurements, never pass/fail assertions. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
        subcommands = BenchCommand.Boot.class)
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
}
