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
 * {@code mvm vm ...} end to end in-process: bad input exits 2 before any image is fetched; a real
 * VM boots, {@code exec} exits with the guest command's code, {@code list --json} shows it, and
 * {@code destroy} removes it. The image comes from the shared test cache (linked in), so the CLI
 * never builds one here.
 */
class VmCliIT {
    Path dataDir;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream originalOut;

    Thread reaper;

    @BeforeEach
    void setUp() throws Exception {
        dataDir = Files.createTempDirectory("mvm-cli-it-");
        // The CLI's VMMs are detached daemons: if this JVM dies before tearDown, still kill them.
        Path mine = dataDir;
        reaper = new Thread(() -> killProcessesNaming(mine), "reap-" + mine.getFileName());
        Runtime.getRuntime().addShutdownHook(reaper);
        originalOut = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    /** SIGKILLs every process with an argument under {@code dir} (each QEMU names its VM directory). */
    static void killProcessesNaming(Path dir) {
        String needle = dir.toAbsolutePath().toString();
        ProcessHandle.allProcesses()
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> {
                    try {
                        return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                                StandardCharsets.UTF_8).contains(needle);
                    } catch (java.io.IOException e) {
                        return false;
                    }
                })
                .forEach(ProcessHandle::destroyForcibly);
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
        killProcessesNaming(dataDir);
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
    void rejectsBadInputBeforeFetchingAnything() {
        assertThat(Main.run("vm", "run", "bad", "--mem", "-5", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(Main.run("vm", "run", "Bad_Name", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(Main.run("vm", "run", "ok", "--cpus", "99", "--data-dir", dataDir.toString())).isEqualTo(2);
        // Drive options are checked before the image is fetched, too.
        assertThat(Main.run("vm", "run", "ok", "--data-disk", "4", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(Main.run("vm", "run", "ok", "--secret", "../escape=x", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(Main.run("vm", "run", "ok", "--config-file", dataDir.resolve("missing.toml").toString(),
                "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(dataDir.resolve("vms")).doesNotExist();
        assertThat(dataDir.resolve("images")).doesNotExist();
        assertThat(Main.run("vm", "pause", "ghost", "--data-dir", dataDir.toString())).isEqualTo(3);
        assertThat(Main.run("vm", "list", "--data-dir", dataDir.toString())).isZero();
        assertThat(output()).startsWith("NAME");
    }

    @Test
    void runsExecsListsAndDestroysARealVm() throws Exception {
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
        String name = "cli-" + UUID.randomUUID().toString().substring(0, 8);
        String d = dataDir.toString();

        assertThat(Main.run("vm", "run", name, "--data-disk", "16", "--secret", "k=v", "--data-dir", d)).isZero();
        assertThat(output()).contains("vm " + name + " running");
        assertThat(Main.run("vm", "exec", name, "--data-dir", d, "--", "sh", "-c", "cat /run/secrets/k; exit 4")).isEqualTo(4);
        assertThat(output()).isEqualTo("v");
        assertThat(Main.run("vm", "list", "--json", "--data-dir", d)).isZero();
        assertThat(output()).contains("\"name\" : \"" + name + "\"", "\"state\" : \"RUNNING\"", "\"accelerator\"");
        assertThat(Main.run("vm", "destroy", name, "--data-dir", d)).isZero();
        assertThat(dataDir.resolve("vms").resolve(name)).doesNotExist();
    }
}
