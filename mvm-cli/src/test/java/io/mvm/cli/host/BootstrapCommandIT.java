package io.mvm.cli.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code mvm bootstrap} against the shared test data dir: on a prepared host a run only checks and
 * says everything is present. Needs root and the host tools, like the VM tests.
 */
class BootstrapCommandIT {

    private static Result run(String... args) {
        CommandLine cli = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    record Result(int code, String out, String err) {}

    private static void requireRoot() {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root && Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("bootstrap test needs root (mvm.requireHostCapabilities=true)");
        }
        Assumptions.assumeTrue(root, "mvm bootstrap needs root to install packages");
    }

    @Test
    void aSecondRunOnAPreparedHostOnlyChecks() {
        requireRoot();
        String dataDir = System.getProperty("mvm.testDataDir", "/var/lib/mvm-test");
        Result first = run("bootstrap", "--data-dir", dataDir);
        assertThat(first.code()).as(first.err()).isZero();
        Result second = run("bootstrap", "--data-dir", dataDir, "--no-install");
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("bootstrap: host tools: all present")
                .contains("bootstrap: guest image 'default' is present")
                .doesNotContain("downloading").doesNotContain("building");
        assertThat(Files.isRegularFile(Path.of(dataDir, "images", "default", "image.json"))).isTrue();
    }

    @Test
    void aMalformedKernelVersionIsAUsageError() {
        Result result = run("bootstrap", "--data-dir", "/nonexistent-mvm-test", "--kernel", "not a version", "--no-install");
        assertThat(result.code()).isEqualTo(2);
        assertThat(result.err()).startsWith("error: 'not a version' is not a kernel version");
        assertThat(Files.exists(Path.of("/nonexistent-mvm-test"))).isFalse();
    }
}
