package io.mvm.cli.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.cli.Main;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code mvm template build FILE --on-host}, {@code template list|info|revisions} and
 * {@code vm run --template} end to end in-process: a one-layer OCI image written here becomes a
 * template, a second build is a cache hit, an invalid file exits 2 with its lines, and a VM boots
 * the template with the image's own workload.
 */
public class TemplateCliIT {
    Path dataDir;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream originalOut;
    PrintStream originalErr;
    Thread reaper;

    @BeforeEach
    void setUp() throws Exception {
        dataDir = Files.createTempDirectory("mvm-template-cli-it-");
        // The CLI's VMMs are detached daemons: if this JVM dies before tearDown, still kill them.
        Path mine = dataDir;
        reaper = new Thread(() -> io.mvm.cli.vm.VmCliITAccess.killProcessesNaming(mine), "reap-" + mine.getFileName());
        Runtime.getRuntime().addShutdownHook(reaper);
        originalOut = System.out;
        originalErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void tearDown() throws Exception {
        System.setOut(originalOut);
        System.setErr(originalErr);
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
        io.mvm.cli.vm.VmCliITAccess.killProcessesNaming(dataDir);
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
    void anInvalidTemplateFileExitsTwoWithItsLines() throws Exception {
        Path file = Files.writeString(dataDir.resolve("bad.toml"), """
                template_id = "web"
                [source.oci]
                [[variants]]
                role = "worker"
                vcpus = 64
                mem_mib = 256
                """);
        assertThat(Main.run("template", "build", file.toString(), "--on-host", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("line 2: source.oci needs exactly one of", "line 5: vcpus must be");
        assertThat(dataDir.resolve("templates")).doesNotExist();
    }

    @Test
    void buildsAnOciTemplateOnThisHostAndBootsIt() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root && Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("needs root (mvm.requireHostCapabilities=true)");
        }
        assumeTrue(root, "needs root to build templates and boot microVMs");
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Files.createSymbolicLink(dataDir.resolve("images"), shared.resolve("images"));
        Path cachedAccel = shared.resolve(AcceleratorProbe.CACHE_FILE);
        if (Files.exists(cachedAccel)) {
            Files.copy(cachedAccel, dataDir.resolve(AcceleratorProbe.CACHE_FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        writeOneLayerImage(dataDir.resolve("app-image"), Map.of(
                "app/job", "#!/.mvm/bin/sh\necho \"job ran with MODE=$MODE in $(pwd) args $*\" > /run/job.out\nsleep 3600\n"));
        Path file = Files.writeString(dataDir.resolve("app.toml"), """
                template_id = "app"
                [source.oci]
                layout = "app-image"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 192
                """);
        String d = dataDir.toString();

        assertThat(Main.run("template", "build", file.toString(), "--data-dir", d)).isEqualTo(5);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("pass --on-host");
        assertThat(Main.run("template", "build", file.toString(), "--on-host", "--data-dir", d)).isZero();
        assertThat(output()).startsWith("template app-worker revision ").contains(" built: oci sha256:");
        assertThat(Main.run("template", "build", file.toString(), "--on-host", "--data-dir", d)).isZero();
        assertThat(output()).contains("reused (cache hit)");
        assertThat(Main.run("template", "list", "--on-host", "--data-dir", d)).isZero();
        assertThat(output()).contains("app-worker", "worker", "oci");
        assertThat(Main.run("template", "info", "app-worker", "--on-host", "--data-dir", d)).isZero();
        assertThat(new ObjectMapper().readTree(output()).path("workload").path("entrypoint").get(0).asText()).isEqualTo("/app/job");
        assertThat(Main.run("template", "revisions", "app-worker", "--on-host", "--data-dir", d)).isZero();
        assertThat(output().lines().filter(l -> l.startsWith("*"))).hasSize(1);

        String name = "tpl-" + UUID.randomUUID().toString().substring(0, 8);
        assertThat(Main.run("vm", "run", name, "--template", "app-worker", "--env", "MODE=cli", "--data-dir", d)).isZero();
        assertThat(output()).contains("vm " + name + " running");
        String ran = "";
        for (int i = 0; i < 60 && !ran.contains("job ran"); i++) {
            Main.run("vm", "exec", name, "--data-dir", d, "--", "cat", "/run/job.out");
            ran = output();
            if (!ran.contains("job ran")) {
                Thread.sleep(500);
            }
        }
        assertThat(ran).isEqualTo("job ran with MODE=cli in /app args --once\n");
        assertThat(Main.run("template", "delete", "app-worker", "--on-host", "--data-dir", d)).isEqualTo(4);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("is used by VM(s) " + name);
        assertThat(Main.run("vm", "destroy", name, "--data-dir", d)).isZero();
        assertThat(Main.run("template", "delete", "app-worker", "--on-host", "--data-dir", d)).isZero();
        assertThat(dataDir.resolve("templates/app-worker")).doesNotExist();
        assertThat(Main.run("template", "info", "app-worker", "--on-host", "--data-dir", d)).isEqualTo(3);
    }

    /** An OCI layout with one gzip layer holding {@code files} (mode 0755) and a config running /app/job --once in /app. */
    public static void writeOneLayerImage(Path dir, Map<String, String> files) throws Exception {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(tar)) {
            for (Map.Entry<String, String> f : files.entrySet()) {
                byte[] content = f.getValue().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry e = new TarArchiveEntry(f.getKey());
                e.setMode(0755);
                e.setSize(content.length);
                t.putArchiveEntry(e);
                t.write(content);
                t.closeArchiveEntry();
            }
            t.finish();
        }
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(gz)) {
            g.write(tar.toByteArray());
        }
        ObjectMapper json = new ObjectMapper();
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        String layer = blob(dir, gz.toByteArray());
        byte[] config = json.writeValueAsBytes(Map.of("architecture", "amd64", "os", "linux",
                "config", Map.of("Entrypoint", List.of("/app/job"), "Cmd", List.of("--once"), "Env", List.of("MODE=image"), "WorkingDir", "/app"),
                "rootfs", Map.of("type", "layers", "diff_ids", List.of("sha256:" + sha256(tar.toByteArray())))));
        String configDigest = blob(dir, config);
        byte[] manifest = json.writeValueAsBytes(Map.of("schemaVersion", 2, "mediaType", "application/vnd.oci.image.manifest.v1+json",
                "config", Map.of("mediaType", "application/vnd.oci.image.config.v1+json", "digest", "sha256:" + configDigest, "size", config.length),
                "layers", List.of(Map.of("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip", "digest", "sha256:" + layer,
                        "size", gz.size()))));
        String manifestDigest = blob(dir, manifest);
        Files.write(dir.resolve("index.json"), json.writeValueAsBytes(Map.of("schemaVersion", 2, "manifests", List.of(Map.of(
                "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest", "sha256:" + manifestDigest, "size", manifest.length)))));
    }

    private static String blob(Path dir, byte[] content) throws IOException {
        String hex = sha256(content);
        Files.write(dir.resolve("blobs/sha256").resolve(hex), content);
        return hex;
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
