package io.mvm.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.nio.file.Path;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mvm bench clone} really runs (one template, one clone, one cold boot, one of each for
 * density, one sleep/wake of each kind) and writes JSON consistent with itself; no VMM is left.
 * Nothing here asserts on how fast anything was.
 */
class CloneBenchCommandIT {
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
        Path out = tmp.resolve("clone.json");

        assertThat(Main.run("bench", "clone", "--runs", "1", "--warmup", "0", "--density", "1", "--sleep-sizes", "256",
                "--sleep-cycles", "1", "--data-dir", shared.toString(), "--out", out.toString())).isZero();

        JsonNode result = new ObjectMapper().readTree(out.toFile());
        JsonNode run = result.get("perRun").get(0);
        double toAnswer = run.get("cloneToAnswerMs").asDouble();
        double cold = run.get("coldMs").asDouble();
        assertThat(toAnswer).isPositive().isLessThanOrEqualTo(run.get("cloneMs").asDouble());
        assertThat(run.get("coldOverClone").asDouble()).isCloseTo(cold / toAnswer, Offset.offset(0.001));
        assertThat(run.get("clonePhasesMs").fieldNames()).toIterable().contains("vmm start", "device state", "agent", "identity");
        assertThat(result.get("cloneToAnswerMedianMs").asDouble()).isEqualTo(toAnswer);
        assertThat(result.get("vmstateBytes").asLong()).isPositive().isLessThan(1 << 20);
        JsonNode density = result.get("density");
        assertThat(density.get("clonesOverCold").asDouble()).isCloseTo(
                density.get("clonesPssKibTotal").asDouble() / density.get("coldPssKibTotal").asDouble(), Offset.offset(0.001));
        JsonNode sleep = result.get("sleepWake").get(0);
        assertThat(sleep.get("fileBackedSnapshotBytes").asLong()).isLessThan(1 << 20);
        assertThat(sleep.get("anonymousSnapshotBytes").asLong()).isGreaterThan(sleep.get("fileBackedSnapshotBytes").asLong());
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("mvm-bench-clone-")))
                .as("no VMM of the benchmark is left running").isEmpty();
    }
}
