package io.mvm.cli.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mvm.cli.Main;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code mvm vm run --template}, {@code vm template save|show|delete} and {@code vm run
 * --from-snapshot} end to end in-process, with their exit codes for bad input: a clone answers with
 * its own hostname and secret, the snapshot cannot be deleted while it runs, nothing is left.
 */
class VmTemplateCliIT {
    Path dataDir;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream originalOut;
    Thread reaper;

    @BeforeEach
    void setUp() throws Exception {
        dataDir = Files.createTempDirectory("mvm-cli-tpl-it-");
        Path mine = dataDir;
        reaper = new Thread(() -> VmCliIT.killProcessesNaming(mine), "reap-" + mine.getFileName());
        Runtime.getRuntime().addShutdownHook(reaper);
        originalOut = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void tearDown() throws Exception {
        System.setOut(originalOut);
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running
        }
        Path vms = dataDir.resolve("vms");
        if (Files.isDirectory(vms)) {
            try (Stream<Path> dirs = Files.list(vms)) {
                for (Path d : dirs.filter(Files::isDirectory).toList()) {
                    Main.run("vm", "destroy", d.getFileName().toString(), "--data-dir", dataDir.toString());
                }
            }
        }
        VmCliIT.killProcessesNaming(dataDir);
        try (Stream<Path> walk = Files.walk(dataDir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private String output() {
        String text = out.toString(StandardCharsets.UTF_8);
        out.reset();
        return text;
    }

    @Test
    void badSnapshotInputIsOneClearErrorWithItsExitCode() {
        String d = dataDir.toString();
        assertThat(Main.run("vm", "run", "c1", "--from-snapshot", dataDir.resolve("missing").toString(), "--data-dir", d)).isEqualTo(3);
        assertThat(Main.run("vm", "run", "c1", "--from-snapshot", d, "--data-dir", d)).isEqualTo(5); // not a snapshot
        assertThat(Main.run("vm", "run", "c1", "--ram-file", "--from-snapshot", d, "--data-dir", d)).isEqualTo(2);
        assertThat(Main.run("vm", "template", "save", "ghost", dataDir.resolve("g").toString(), "--data-dir", d)).isEqualTo(3);
        assertThat(Main.run("vm", "template", "delete", d)).isEqualTo(5); // never deletes what is not a snapshot
        assertThat(dataDir).exists();
    }

    @Test
    void templateSaveCloneAndDelete() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root && Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("needs root (mvm.requireHostCapabilities=true)");
        }
        assumeTrue(root, "needs root to boot microVMs");
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Files.createSymbolicLink(dataDir.resolve("images"), shared.resolve("images"));
        Path cachedAccel = shared.resolve(AcceleratorProbe.CACHE_FILE);
        if (Files.exists(cachedAccel)) {
            Files.copy(cachedAccel, dataDir.resolve(AcceleratorProbe.CACHE_FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        String suffix = UUID.randomUUID().toString().substring(0, 6);
        String template = "tpl-" + suffix;
        String clone = "clone-" + suffix;
        String d = dataDir.toString();
        Path golden = dataDir.resolve("golden");

        assertThat(Main.run("vm", "run", template, "--ram-file", "--mem", "192", "--secret", "k=template", "--data-dir", d)).isZero();
        assertThat(Main.run("vm", "template", "save", template, golden.toString(), "--data-dir", d)).isZero();
        assertThat(output()).contains("golden snapshot " + golden, "VM " + template + " is stopped");
        assertThat(Main.run("vm", "template", "show", golden.toString())).isZero();
        assertThat(output()).contains("\"memoryMib\" : 192", "\"vcpus\" : 1");

        // vCPUs and memory default to the snapshot's; an explicit other value is refused, naming it.
        assertThat(Main.run("vm", "run", clone, "--from-snapshot", golden.toString(), "--mem", "256", "--secret", "k=x",
                "--data-dir", d)).isEqualTo(5);
        assertThat(Main.run("vm", "run", clone, "--from-snapshot", golden.toString(), "--secret", "k=clone", "--data-dir", d)).isZero();
        assertThat(output()).contains("vm " + clone + " running", "cloned in");
        assertThat(Main.run("vm", "exec", clone, "--data-dir", d, "--", "sh", "-c", "hostname; cat /run/secrets/k")).isZero();
        assertThat(output()).isEqualTo(clone + "\nclone");

        assertThat(Main.run("vm", "template", "delete", golden.toString())).isEqualTo(5);
        assertThat(golden).exists();
        assertThat(Main.run("vm", "destroy", clone, "--data-dir", d)).isZero();
        assertThat(Main.run("vm", "template", "delete", golden.toString())).isZero();
        assertThat(golden).doesNotExist();
    }
}
