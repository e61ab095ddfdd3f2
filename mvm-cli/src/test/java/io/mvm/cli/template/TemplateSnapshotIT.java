package io.mvm.cli.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.agent.local.AgentNetwork;
import io.mvm.agent.local.LocalInstanceRuntime;
import io.mvm.cli.Main;
import io.mvm.cli.vm.LocalRuntime;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Snapshot templates end to end with real microVMs, sharing ONE template and its golden snapshot
 * across the methods (a snapshot build costs a boot, a readiness wait and a save): {@code mvm
 * template build --snapshot} waits for the template's readiness command and records the snapshot
 * with checksums in the revision; {@code vm run --template} clones it; two clones (and two pool
 * instances started by the agent's runtime) differ in identity and do not see each other's writes,
 * and the template's files stay as recorded; a parameter mismatch is refused with what differs; a
 * corrupt or truncated snapshot is detected and never restored (an automatic start cold-boots and
 * says why); deleting the template while a clone runs is refused, and forced, the clone keeps its RAM.
 *
 * <p>The image's workload writes {@code /run/warm} (tmpfs, so guest RAM) once, three seconds after
 * it starts, naming the host it ran on; the readiness command waits for that file. A clone restored
 * from the snapshot has the template's {@code /run/warm} ("warmed by tpl-snapshot-..."), which no
 * cold boot can have.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TemplateSnapshotIT {
    private static final String TEMPLATE = "snap-worker";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String run = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);

    Path dataDir;
    String d;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream originalOut;
    PrintStream originalErr;
    Thread reaper;
    String buildOutput;
    String buildErrors;

    @BeforeAll
    void buildTemplateWithSnapshot() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root && Boolean.getBoolean("mvm.requireHostCapabilities")) {
            throw new AssertionError("needs root (mvm.requireHostCapabilities=true)");
        }
        assumeTrue(root, "needs root to build templates and boot microVMs");
        dataDir = Files.createTempDirectory("mvm-template-snapshot-it-");
        d = dataDir.toString();
        Path mine = dataDir;
        reaper = new Thread(() -> io.mvm.cli.vm.VmCliITAccess.killProcessesNaming(mine), "reap-" + mine.getFileName());
        Runtime.getRuntime().addShutdownHook(reaper);
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Files.createSymbolicLink(dataDir.resolve("images"), shared.resolve("images"));
        Path cachedAccel = shared.resolve(AcceleratorProbe.CACHE_FILE);
        if (Files.exists(cachedAccel)) {
            Files.copy(cachedAccel, dataDir.resolve(AcceleratorProbe.CACHE_FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        TemplateCliIT.writeOneLayerImage(dataDir.resolve("snap-image"), Map.of(
                "app/job", """
                        #!/.mvm/bin/sh
                        [ -f /run/warm ] || { sleep 3; echo "warmed by $(hostname)" > /run/warm; }
                        echo "job ran on $(hostname)" > /run/job.out
                        exec sleep 3600
                        """,
                "app/ready", "#!/.mvm/bin/sh\necho check >> /run/ready.log\n[ -f /run/warm ]\n"));
        Path file = Files.writeString(dataDir.resolve("snap.toml"), """
                template_id = "snap"
                [source.oci]
                layout = "snap-image"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 192
                data_disk_mib = 16
                [snapshot]
                readiness = ["/app/ready"]
                readiness_timeout = 90
                """);
        capture();
        try {
            int code = Main.run("template", "build", file.toString(), "--on-host", "--snapshot", "--data-dir", d);
            buildOutput = out.toString(StandardCharsets.UTF_8);
            buildErrors = err.toString(StandardCharsets.UTF_8);
            assertThat(code).as(buildErrors).isZero();
        } finally {
            restore();
        }
    }

    @AfterAll
    void removeEverything() throws Exception {
        if (dataDir == null) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running
        }
        destroyAllVms();
        io.mvm.cli.vm.VmCliITAccess.killProcessesNaming(dataDir);
        try (Stream<Path> walk = Files.walk(dataDir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @BeforeEach
    void capture() {
        originalOut = System.out;
        originalErr = System.err;
        out.reset();
        err.reset();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(originalOut);
        System.setErr(originalErr);
    }

    private void destroyAllVms() throws Exception {
        Path vms = dataDir.resolve("vms");
        if (Files.isDirectory(vms)) {
            try (Stream<Path> dirs = Files.list(vms)) {
                for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                    Main.run("vm", "destroy", dir.getFileName().toString(), "--data-dir", d);
                }
            }
        }
    }

    private String output() {
        String text = out.toString(StandardCharsets.UTF_8);
        out.reset();
        return text;
    }

    private String errors() {
        String text = err.toString(StandardCharsets.UTF_8);
        err.reset();
        return text;
    }

    private String sh(String vm, String script) {
        out.reset();
        int code = Main.run("vm", "exec", vm, "--data-dir", d, "--", "sh", "-c", script);
        String text = output();
        assertThat(code).as("exit of '" + script + "' in " + vm + ": " + text + errors()).isZero();
        return text.strip();
    }

    private Path revisionDir() throws Exception {
        Path link = dataDir.resolve("templates").resolve(TEMPLATE).resolve("current");
        return link.resolveSibling(Files.readSymbolicLink(link)).normalize();
    }

    private JsonNode revisionJson() throws Exception {
        return JSON.readTree(revisionDir().resolve("revision.json").toFile());
    }

    private String vm(String prefix) {
        return prefix + "-" + run;
    }

    @Test
    @Order(1)
    void theSnapshotBuildWaitsForReadinessAndRecordsEveryFileWithItsChecksum() throws Exception {
        assertThat(buildErrors).contains("waiting up to 90 s for the readiness command [/app/ready]", "readiness command succeeded after");
        assertThat(buildOutput).contains("template snap-worker revision ", " golden snapshot saved: ", "QEMU ", "tcg");
        JsonNode revision = revisionJson();
        assertThat(revision.path("schema_version").asInt()).isEqualTo(3);
        JsonNode snapshot = revision.path("snapshot");
        assertThat(snapshot.path("directory").asText()).isEqualTo("snapshot");
        assertThat(snapshot.path("vcpus").asInt()).isEqualTo(1);
        assertThat(snapshot.path("mem_mib").asInt()).isEqualTo(192);
        assertThat(snapshot.path("mem_size_bytes").asLong()).isEqualTo(192L << 20);
        assertThat(snapshot.path("backend").asText()).isEqualTo("qemu");
        assertThat(snapshot.path("backend_version").asText()).matches("\\d+\\.\\d+.*");
        assertThat(snapshot.path("readiness").get(0).asText()).isEqualTo("/app/ready");
        assertThat(snapshot.path("image_sha256").path("rootfs").asText())
                .isEqualTo(revision.path("artifacts").findParents("role").stream()
                        .filter(a -> a.path("role").asText().equals("rootfs")).findFirst().orElseThrow().path("sha256").asText());
        Map<String, JsonNode> files = new LinkedHashMap<>();
        snapshot.path("files").forEach(f -> files.put(f.path("name").asText(), f));
        assertThat(files).containsOnlyKeys("vmstate.bin", "memory.ram", "data.ext4", "info.json");
        for (JsonNode f : files.values()) {
            Path p = revisionDir().resolve("snapshot").resolve(f.path("name").asText());
            assertThat(Files.size(p)).isEqualTo(f.path("size").asLong());
            assertThat(ImageBuilder.sha256(p)).as(p.toString()).isEqualTo(f.path("sha256").asText());
        }
        // The snapshot VM is gone: only the snapshot remains.
        assertThat(Main.run("vm", "list", "--data-dir", d)).isZero();
        assertThat(output()).doesNotContain("tpl-snapshot-");
        assertThat(VmProcesses.qemusNaming(dataDir)).isEmpty();
        // Another --snapshot build of the same inputs keeps the intact snapshot.
        assertThat(Main.run("template", "build", dataDir.resolve("snap.toml").toString(), "--on-host", "--snapshot", "--data-dir", d)).isZero();
        assertThat(output()).contains("reused (cache hit)", "golden snapshot kept");
        assertThat(Main.run("template", "list", "--on-host", "--data-dir", d)).isZero();
        assertThat(output()).containsPattern("snap-worker\\s+worker\\s+\\S+\\s+oci\\s+yes");
    }

    @Test
    @Order(2)
    void twoClonesAnswerDifferInIdentityAndDoNotSeeEachOthersWrites() throws Exception {
        String a = vm("ca");
        String b = vm("cb");
        try {
            twoClones(a, b);
        } finally {
            Main.run("vm", "destroy", a, "--data-dir", d);
            Main.run("vm", "destroy", b, "--data-dir", d);
        }
    }

    private void twoClones(String a, String b) throws Exception {
        assertThat(Main.run("vm", "run", a, "--template", TEMPLATE, "--secret", "token=alpha", "--data-dir", d)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(output()).contains("vm " + a + " running", "cloned from template " + TEMPLATE);
        assertThat(Main.run("vm", "run", b, "--template", TEMPLATE, "--secret", "token=bravo", "--data-dir", d)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(output()).contains("vm " + b + " running", "cloned from template " + TEMPLATE);

        Map<String, String> idA = identity(a);
        Map<String, String> idB = identity(b);
        for (String key : List.of("random", "hostname", "machine-id", "secret")) {
            assertThat(idA.get(key)).as(key).isNotEqualTo(idB.get(key));
        }
        assertThat(idA.get("hostname")).isEqualTo(a);
        assertThat(idA.get("secret")).isEqualTo("alpha");
        assertThat(idB.get("secret")).isEqualTo("bravo");
        assertThat(idA.get("generation")).isEqualTo("1");
        // Restored, not booted: the template's workload warmed /run before the snapshot.
        assertThat(idA.get("warm")).startsWith("warmed by tpl-snapshot-");
        assertThat(idB.get("warm")).isEqualTo(idA.get("warm"));
        // The clone's own workload (the image's) starts after its identity: it runs under the clone's name.
        String job = "";
        for (int i = 0; i < 40 && !job.contains(a); i++) {
            job = sh(a, "cat /run/job.out 2>/dev/null; true");
            if (!job.contains(a)) {
                Thread.sleep(500);
            }
        }
        assertThat(job).isEqualTo("job ran on " + a);

        sh(a, "echo from-a > /data/a.txt && echo from-a > /tmp/a.txt && sync");
        assertThat(sh(b, "ls /data/a.txt /tmp/a.txt 2>&1; true")).contains("No such file", "/data/a.txt", "/tmp/a.txt")
                .doesNotContain("from-a");
        assertThat(sh(a, "cat /data/a.txt /tmp/a.txt")).isEqualTo("from-a\nfrom-a");

        // The template's files are as recorded: the clones' writes went to their own pages and drives.
        JsonNode snapshot = revisionJson().path("snapshot");
        for (JsonNode f : snapshot.path("files")) {
            Path p = revisionDir().resolve("snapshot").resolve(f.path("name").asText());
            assertThat(ImageBuilder.sha256(p)).as(p + " after the clones wrote").isEqualTo(f.path("sha256").asText());
        }
    }

    private Map<String, String> identity(String vm) {
        Map<String, String> id = new LinkedHashMap<>();
        id.put("random", sh(vm, "head -c 16 /dev/urandom | od -x"));
        id.put("hostname", sh(vm, "hostname"));
        id.put("machine-id", sh(vm, "cat /etc/machine-id"));
        id.put("secret", sh(vm, "cat /run/secrets/token"));
        id.put("generation", sh(vm, "cat /run/mvm/generation"));
        id.put("warm", sh(vm, "cat /run/warm"));
        return id;
    }

    @Test
    @Order(3)
    void poolInstancesStartedByTheAgentAreClonesWithTheirOwnIdentity() throws Exception {
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        GuestImage image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        var vms = LocalRuntime.open(dataDir, Optional.of(image));
        var runtime = new LocalInstanceRuntime(vms, image, new AgentNetwork.None(), dataDir);
        InstanceId first = InstanceId.of(vm("pool1"));
        InstanceId second = InstanceId.of(vm("pool2"));
        try {
            runtime.create(instance(first, "s3cret-one"));
            runtime.create(instance(second, "s3cret-two"));
            Map<String, String> one = agentIdentity(runtime, first);
            Map<String, String> two = agentIdentity(runtime, second);
            assertThat(one.get("warm")).startsWith("warmed by tpl-snapshot-");
            assertThat(two.get("warm")).startsWith("warmed by tpl-snapshot-");
            assertThat(one.get("hostname")).isEqualTo(first.value());
            assertThat(two.get("hostname")).isEqualTo(second.value());
            assertThat(one.get("secret")).isEqualTo("s3cret-one");
            assertThat(two.get("secret")).isEqualTo("s3cret-two");
            for (String key : List.of("random", "machine-id")) {
                assertThat(one.get(key)).as(key).isNotEqualTo(two.get(key));
            }
            assertThat(Files.exists(vms.directory(first.value()).resolve("memory.json"))).as("a clone's RAM mapping").isTrue();
        } finally {
            runtime.destroy(first);
            runtime.destroy(second);
        }
    }

    private InstanceSpec instance(InstanceId id, String secret) {
        return new InstanceSpec(id, TenantId.of("t" + run), PoolName.of("workers"), Role.WORKER, 1, 192, 16,
                new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), List.of(), Map.of(), Map.of("token", secret),
                Map.of(), "r1", Optional.of(TEMPLATE));
    }

    private static Map<String, String> agentIdentity(LocalInstanceRuntime runtime, InstanceId id) {
        Map<String, String> out = new LinkedHashMap<>();
        for (var entry : Map.of("random", "head -c 16 /dev/urandom | od -x", "hostname", "hostname", "machine-id", "cat /etc/machine-id",
                "secret", "cat /run/secrets/token", "warm", "cat /run/warm").entrySet()) {
            GuestChannel.ExecResult result = runtime.exec(id, new GuestChannel.ExecRequest(List.of("sh", "-c", entry.getValue()), Map.of(),
                    new byte[0], Duration.ofSeconds(30)));
            assertThat(result.exitCode()).as(entry.getKey()).isZero();
            out.put(entry.getKey(), new String(result.stdout(), StandardCharsets.UTF_8).strip());
        }
        return out;
    }

    @Test
    @Order(4)
    void aParameterMismatchIsRefusedNamingWhatDiffers() throws Exception {
        String name = vm("mm");
        assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--clone", "--cpus", "2", "--mem", "256", "--data-dir", d)).isEqualTo(5);
        assertThat(errors()).contains("cannot be cloned from template " + TEMPLATE, "vCPUs: snapshot 1, this VM 2",
                "memory (MiB): snapshot 192, this VM 256");
        assertThat(dataDir.resolve("vms").resolve(name)).doesNotExist();
        assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--cold", "--clone", "--data-dir", d)).isEqualTo(2);
        assertThat(errors()).contains("--clone and --cold exclude each other");
    }

    @Test
    @Order(5)
    void aCorruptOrTruncatedSnapshotIsDetectedAndNeverRestored() throws Exception {
        Path vmstate = revisionDir().resolve("snapshot/vmstate.bin");
        byte[] original = Files.readAllBytes(vmstate);
        String name = vm("bad");
        Main.run("vm", "destroy", name, "--data-dir", d);
        try {
            byte[] flipped = original.clone();
            flipped[flipped.length / 2] ^= 0x01;
            Files.write(vmstate, flipped);
            assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--clone", "--data-dir", d)).isEqualTo(5);
            assertThat(errors()).contains("missing or damaged, not restoring it", "vmstate.bin has sha256");
            assertThat(dataDir.resolve("vms").resolve(name)).doesNotExist();

            Files.write(vmstate, java.util.Arrays.copyOf(original, original.length - 4096));
            // Without --clone the VM still starts, by a cold boot that says why.
            assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--data-dir", d)).as(err.toString(StandardCharsets.UTF_8)).isZero();
            assertThat(output()).contains("vm " + name + " running").doesNotContain("cloned from");
            assertThat(errors()).contains("cold boot instead of a clone", "vmstate.bin has " + (original.length - 4096) + " bytes",
                    "truncated");
            assertThat(sh(name, "cat /run/warm 2>/dev/null; true")).doesNotContain("tpl-snapshot-");
            assertThat(Main.run("vm", "destroy", name, "--data-dir", d)).isZero();

            // A changed info.json is caught against the revision record's checksum of it.
            Files.write(vmstate, original);
            Path info = revisionDir().resolve("snapshot/info.json");
            String infoText = Files.readString(info);
            try {
                Files.writeString(info, infoText.replace("\"vcpus\" : 1", "\"vcpus\" : 1 "));
                assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--clone", "--data-dir", d)).isEqualTo(5);
                assertThat(errors()).contains("info.json has ", "recorded");
            } finally {
                Files.writeString(info, infoText);
            }
        } finally {
            Files.write(vmstate, original);
            Main.run("vm", "destroy", name, "--data-dir", d);
        }
    }

    @Test
    @Order(6)
    void benchCloneCanCloneTheTemplatesSnapshot() throws Exception {
        assertThat(Main.run("bench", "clone", "--template", TEMPLATE, "--runs", "1", "--warmup", "0", "--density", "0",
                "--sleep-sizes", "0", "--data-dir", d)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        JsonNode result = JSON.readTree(output());
        assertThat(result.path("template").asText()).isEqualTo(TEMPLATE);
        assertThat(result.path("memoryMib").asInt()).isEqualTo(192);
        assertThat(result.path("perRun")).hasSize(1);
        assertThat(result.path("cloneToAnswerMedianMs").asDouble()).isPositive();
        assertThat(result.path("coldMedianMs").asDouble()).isPositive();
        assertThat(errors()).contains("cloning template " + TEMPLATE + "'s golden snapshot " + revisionDir().resolve("snapshot"));
        assertThat(VmProcesses.qemusNaming(dataDir)).isEmpty();
    }

    @Test
    @Order(9)
    void deletingTheTemplateWhileAClonRunsIsRefusedAndForcedTheCloneKeepsItsRam() throws Exception {
        String name = vm("del");
        assertThat(Main.run("vm", "run", name, "--template", TEMPLATE, "--clone", "--data-dir", d)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(output()).contains("cloned from template " + TEMPLATE);
        assertThat(Main.run("template", "delete", TEMPLATE, "--on-host", "--data-dir", d)).isEqualTo(4);
        assertThat(errors()).contains("template " + TEMPLATE + " is used by VM(s) ", name, "running clone(s) mapping its golden snapshot's RAM (pids");
        assertThat(dataDir.resolve("templates").resolve(TEMPLATE)).exists();

        assertThat(Main.run("template", "delete", TEMPLATE, "--on-host", "--force", "--data-dir", d)).isZero();
        assertThat(output()).contains("deleted; 1 running clone(s) keep its snapshot's RAM until they end");
        assertThat(dataDir.resolve("templates").resolve(TEMPLATE)).doesNotExist();
        // The clone runs on with the unlinked RAM file: it writes, reads and keeps the template's pages.
        assertThat(sh(name, "dd if=/dev/zero of=/tmp/fill bs=1M count=16 2>/dev/null && ls -l /tmp/fill | awk '{print $5}'"))
                .isEqualTo(Integer.toString(16 << 20));
        assertThat(sh(name, "cat /run/warm")).startsWith("warmed by tpl-snapshot-");
        long pid = VmProcesses.qemusNaming(dataDir.resolve("vms").resolve(name)).getFirst();
        assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).contains("memory.ram (deleted)");
        assertThat(Main.run("vm", "destroy", name, "--data-dir", d)).isZero();
        assertThat(VmProcesses.qemusNaming(dataDir)).isEmpty();
    }

    @Test
    @Order(7)
    void aTemplateSnapshotWithANicIsClonedOntoTheClonesOwnTapMacAndAddress() throws Exception {
        Path file = Files.writeString(dataDir.resolve("snapnet.toml"), """
                template_id = "snapnet"
                [source.oci]
                layout = "snap-image"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 160
                [snapshot]
                nic = true
                drain_timeout = 2
                """);
        assertThat(Main.run("template", "build", file.toString(), "--on-host", "--snapshot", "--data-dir", d))
                .as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(output()).contains("template snapnet-worker revision ", "golden snapshot saved");
        assertThat(Files.readString(Path.of("/proc/net/dev"))).doesNotContain("mvs");
        // A VM without a NIC does not fit it.
        assertThat(Main.run("vm", "run", vm("nonic"), "--template", "snapnet-worker", "--clone", "--data-dir", d)).isEqualTo(5);
        assertThat(errors()).contains("the snapshot has a NIC, this VM none");

        String tap = "snt" + run;
        String name = vm("net");
        Path shared = Path.of(System.getProperty("mvm.testDataDir", "/var/lib/mvm-test"));
        var vms = LocalRuntime.open(dataDir, Optional.of(ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE)));
        var store = new io.mvm.runtime.template.TemplateStore(dataDir, java.time.InstantSource.system());
        var template = new io.mvm.core.template.TemplateId("snapnet-worker");
        hostCommand("ip", "tuntap", "add", "dev", tap, "mode", "tap");
        try {
            hostCommand("ip", "link", "set", tap, "up");
            var boot = io.mvm.runtime.template.TemplateBoot.of(store.currentRevision(template).orElseThrow(), null, Map.of());
            var spec = io.mvm.runtime.backend.VmSpec.builder(name, boot.image()).vcpus(1).memoryMib(160).cmd(boot.cmd())
                    .nic(new io.mvm.runtime.backend.NicSpec(tap, "52:54:00:7a:00:0b", "10.231.0.11", 24, "10.231.0.1")).build();
            var started = io.mvm.runtime.template.TemplateStart.start(vms, store, template, spec,
                    io.mvm.runtime.template.TemplateStart.Mode.CLONE, message -> { });
            assertThat(started.cloned()).isPresent();
            assertThat(sh(name, "cat /sys/class/net/eth0/address")).isEqualTo("52:54:00:7a:00:0b");
            assertThat(sh(name, "ip -4 addr show eth0")).contains("10.231.0.11/24").doesNotContain("169.254.77.2");
            assertThat(sh(name, "ip route")).contains("default via 10.231.0.1");
            assertThat(sh(name, "hostname")).isEqualTo(name);
        } finally {
            Main.run("vm", "destroy", name, "--data-dir", d);
            hostCommand("ip", "link", "del", tap);
        }
    }

    @Test
    @Order(8)
    void aReadinessCommandThatNeverSucceedsFailsTheSnapshotAndLeavesNothing() throws Exception {
        Path file = Files.writeString(dataDir.resolve("snapfail.toml"), """
                template_id = "snapfail"
                [source.oci]
                layout = "snap-image"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 128
                [snapshot]
                readiness = ["sh", "-c", "echo not yet >&2; exit 3"]
                readiness_timeout = 3
                """);
        assertThat(Main.run("template", "build", file.toString(), "--on-host", "--snapshot", "--data-dir", d)).isEqualTo(5);
        assertThat(errors()).contains("readiness command [sh, -c, echo not yet >&2; exit 3] did not succeed within 3 s",
                "last: exit 3: not yet", "no snapshot was taken");
        Path link = dataDir.resolve("templates/snapfail-worker/current");
        Path revision = link.resolveSibling(Files.readSymbolicLink(link)).normalize();
        assertThat(JSON.readTree(revision.resolve("revision.json").toFile()).has("snapshot")).isFalse();
        try (Stream<Path> files = Files.list(revision)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".snapshot") || n.equals("snapshot"));
        }
        assertThat(Main.run("vm", "list", "--data-dir", d)).isZero();
        assertThat(output()).doesNotContain("tpl-snapshot-");
        assertThat(VmProcesses.qemusNaming(dataDir)).isEmpty();
    }

    private static void hostCommand(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", argv) + ": " + text).isZero();
    }

    /** QEMU processes whose command line names a path. */
    static final class VmProcesses {
        static List<Long> qemusNaming(Path path) throws Exception {
            try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
                return procs.filter(p -> p.getFileName().toString().matches("\\d+")).filter(p -> {
                    try {
                        String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
                        return cmd.contains("qemu-system") && cmd.contains(path.toString());
                    } catch (Exception e) {
                        return false;
                    }
                }).map(p -> Long.parseLong(p.getFileName().toString())).toList();
            }
        }
    }
}
