package io.mvm.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mvm bench boot} really runs: one round of bare QEMU, mvm cold start and wake, each a real
 * microvm, written as JSON whose ratios are computed from its own medians. Nothing here asserts on
 * how fast anything was; the benchmark measures, tests don't.
 */
class BenchCommandIT {

    @TempDir
    Path tmp;

    @Test
    void oneRoundWritesConsistentJsonAndLeavesNoVmBehind() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root && Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("needs root (mvm.requireHostCapabilities=true)");
        }
        assumeTrue(root, "needs root to boot microVMs");
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Path out = tmp.resolve("boot.json");

        assertThat(Main.run("bench", "boot", "--runs", "1", "--warmup", "0", "--data-dir", shared.toString(), "--out", out.toString()))
                .isZero();

        JsonNode result = new ObjectMapper().readTree(out.toFile());
        assertThat(result.get("runs").asInt()).isEqualTo(1);
        assertThat(result.get("accelerator").asText()).isIn("tcg", "kvm");
        JsonNode run = result.get("perRun").get(0);
        double bare = run.get("bareMs").asDouble();
        double marker = run.get("bareToMarkerMs").asDouble();
        double cold = run.get("coldMs").asDouble();
        double wake = run.get("wakeMs").asDouble();
        assertThat(marker).isPositive();
        assertThat(bare).as("the agent answers after its ready line").isGreaterThanOrEqualTo(marker);
        assertThat(cold).isPositive();
        assertThat(wake).isPositive();
        assertThat(result.get("coldOverBare").asDouble()).isCloseTo(cold / bare, org.assertj.core.data.Offset.offset(0.001));
        assertThat(run.get("coldOverBare").asDouble()).isCloseTo(cold / bare, org.assertj.core.data.Offset.offset(0.001));
        assertThat(result.get("coldOverBareOfMinimums").asDouble()).isCloseTo(cold / bare, org.assertj.core.data.Offset.offset(0.001));
        assertThat(result.get("coldOverBareMedianOfRunsCi95").get("low").asDouble())
                .isCloseTo(cold / bare, org.assertj.core.data.Offset.offset(0.001));
        assertThat(result.get("warmupRuns").asInt()).isZero();
        assertThat(result.get("hostCpus").asInt()).isPositive();
        assertThat(result.get("wakeOverCold").asDouble()).isCloseTo(wake / cold, org.assertj.core.data.Offset.offset(0.001));
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("mvm-bench-")))
                .as("no VMM of the benchmark is left running").isEmpty();
    }
}
