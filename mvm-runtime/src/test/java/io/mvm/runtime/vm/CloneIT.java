package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.snapshot.FileDigests;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.GoldenSnapshotDeletion;
import io.mvm.runtime.snapshot.MemorySharing;
import io.mvm.runtime.testing.ProcessReaper;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Golden snapshots and clones with real microVMs: a template (RAM in a file, a NIC, data, secrets
 * and config drives) saved as a golden snapshot, two clones of it that are machines of their own,
 * writes that stay in the clone that made them, refusals of mismatched parameters and damaged
 * snapshot files before anything is launched, sleep/wake of a clone, and deleting the snapshot while
 * a clone still maps its RAM. Ordered: the clones of the later steps come from the earlier ones.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CloneIT {
    private static final Duration CALL = Duration.ofSeconds(60);
    static RuntimeFixture runtime;
    static TestTaps taps;
    static LocalClones clones;
    static String template;
    static Path golden;
    static String templateMachineId;
    static String cloneA;
    static String cloneB;
    static MemorySharing.ClonedVm clonedA;
    static final Map<String, NicSpec> nics = new java.util.HashMap<>();

    @BeforeAll
    static void bootTemplate() throws Exception {
        runtime = new RuntimeFixture();
        taps = new TestTaps();
        clones = new LocalClones(runtime.vms);
        template = RuntimeFixture.uniqueName("tpl");
        cloneA = RuntimeFixture.uniqueName("clone-a");
        cloneB = RuntimeFixture.uniqueName("clone-b");
        nics.put(template, new NicSpec(taps.create("t"), "52:54:00:c1:00:01", "10.214.0.2", 24, "10.214.0.1"));
        nics.put(cloneA, new NicSpec(taps.create("a"), "52:54:00:c1:00:0a", "10.214.0.10", 24, "10.214.0.1"));
        nics.put(cloneB, new NicSpec(taps.create("b"), "52:54:00:c1:00:0b", "10.214.0.11", 24, "10.214.0.1"));
        VmStatus status = clones.runTemplate(spec(template, "template-secret").build());
        assertThat(status.state()).isEqualTo(InstanceState.RUNNING);
        golden = runtime.dataDir.resolve("golden");
    }

    private static VmSpec.Builder spec(String name, String secret) {
        return VmSpec.builder(name, runtime.image).vcpus(1).memoryMib(256)
                .drive(new DriveSpec.Data(64))
                .drive(new DriveSpec.Secrets(Map.of("token", secret)))
                .drive(new DriveSpec.Config(1, Map.of("app.conf", ("owner=" + name + "\n").getBytes(StandardCharsets.UTF_8))))
                .nic(nics.get(name));
    }

    @AfterAll
    static void cleanUp() throws Exception {
        try {
            if (runtime != null) {
                runtime.close();
            }
        } finally {
            if (taps != null) {
                taps.close();
            }
        }
    }

    static String sh(String vm, String script) {
        try (GuestChannel guest = runtime.vms.guest(vm)) {
            GuestChannel.ExecResult result = guest.exec(GuestChannel.ExecRequest.of(CALL, "sh", "-c", script));
            assertThat(result.exitCode()).as(vm + ": " + script + " → " + result.stderrText()).isZero();
            return result.stdoutText().strip();
        }
    }

    @Test
    @Order(1)
    void templateIsSavedAsAGoldenSnapshotWithItsRamInAFile() throws Exception {
        templateMachineId = sh(template, "cat /etc/machine-id");
        assertThat(templateMachineId).matches("[0-9a-f]{32}");
        sh(template, "echo from-template > /data/template.txt");
        GoldenSnapshot snapshot = clones.saveTemplate(template, golden, Duration.ofSeconds(5));

        assertThat(snapshot.info().memory().bytes()).isEqualTo(256L << 20);
        assertThat(snapshot.info().vmstate().bytes()).as("only device state, RAM stays in its file").isLessThan(1 << 20);
        assertThat(snapshot.info().vmstate().sha256()).hasSize(64);
        assertThat(snapshot.info().memory().sha256()).hasSize(64);
        assertThat(snapshot.info().backendVersion()).matches("\\d+\\.\\d+.*");
        assertThat(snapshot.info().driveSlots()).extracting(s -> s.id()).containsExactly("data", "secrets", "config");
        assertThat(snapshot.info().nic()).isTrue();
        assertThat(Files.readString(golden.resolve("info.json"))).contains("\"schemaVersion\" : 1", "\"createdAt\"");
        VmStatus stopped = runtime.vms.status(template);
        assertThat(stopped.state()).isEqualTo(InstanceState.STOPPED);
        assertThat(stopped.reason()).contains("golden snapshot");
        assertThat(ProcessReaper.mentioning(runtime.vms.directory(template))).as("the template's VMM ended").isEmpty();
        assertThat(GoldenSnapshot.open(golden).info()).isEqualTo(snapshot.info());
    }

    @Test
    @Order(2)
    void twoClonesBootAnswerAndAreMachinesOfTheirOwn() {
        clonedA = clones.runClone(spec(cloneA, "secret-a").build(), golden);
        MemorySharing.ClonedVm clonedB = clones.runClone(spec(cloneB, "secret-b").build(), golden);
        assertThat(clonedA.handle().state()).isEqualTo(InstanceState.RUNNING);
        assertThat(clonedA.phaseMillis()).containsKeys("vmm start", "device state", "agent", "identity");
        assertThat(clonedA.generation()).isEqualTo(1);
        assertThat(clonedB.generation()).isEqualTo(1);

        Map<String, String> a = identity(cloneA);
        Map<String, String> b = identity(cloneB);
        System.out.println("clone A: " + a + "\nclone B: " + b + "\nphases A: " + clonedA.phaseMillis()
                + " total " + clonedA.totalMillis() + " ms; B: " + clonedB.phaseMillis() + " total " + clonedB.totalMillis() + " ms");
        for (String key : List.of("random", "hostname", "mac", "ip", "machine-id", "secret", "config")) {
            assertThat(a.get(key)).as(key).isNotEqualTo(b.get(key));
        }
        assertThat(a.get("hostname")).isEqualTo(cloneA);
        assertThat(a.get("mac")).contains("52:54:00:c1:00:0a");
        assertThat(a.get("ip")).contains("10.214.0.10/24").doesNotContain("10.214.0.2/");
        assertThat(b.get("ip")).contains("10.214.0.11/24");
        assertThat(a.get("machine-id")).isNotEqualTo(templateMachineId).matches("[0-9a-f]{32}");
        assertThat(a.get("secret")).isEqualTo("secret-a");
        assertThat(b.get("secret")).isEqualTo("secret-b");
        assertThat(a.get("config")).isEqualTo("owner=" + cloneA);
        assertThat(a.get("generation")).isEqualTo("1");
        // The clock was set from the host: within a minute of ours (whole seconds, TCG drift, slow calls).
        long guestNow = Long.parseLong(a.get("clock"));
        assertThat(Math.abs(guestNow - Instant.now().getEpochSecond())).isLessThan(60);
        // The template's data drive, as it was at the snapshot, is every clone's starting point.
        assertThat(a.get("template-data")).isEqualTo("from-template");
    }

    private static Map<String, String> identity(String vm) {
        return Map.of(
                "random", sh(vm, "head -c 16 /dev/urandom | od -x"),
                "hostname", sh(vm, "hostname"),
                "mac", sh(vm, "cat /sys/class/net/eth0/address"),
                "ip", sh(vm, "ip -o -4 addr show eth0"),
                "machine-id", sh(vm, "cat /etc/machine-id"),
                "secret", sh(vm, "cat /run/secrets/token"),
                "config", sh(vm, "cat /etc/mvm-config/app.conf"),
                "generation", sh(vm, "cat /run/mvm/generation"),
                "clock", sh(vm, "date +%s"),
                "template-data", sh(vm, "cat /data/template.txt"));
    }

    @Test
    @Order(3)
    void aClonesWritesStayInThatClone() throws Exception {
        String templateData = FileDigests.sha256(runtime.vms.directory(template).resolve("data.ext4"));
        sh(cloneA, "echo only-a > /tmp/a.txt && echo only-a > /data/a.txt && sync");
        assertThat(sh(cloneA, "cat /tmp/a.txt /data/a.txt")).isEqualTo("only-a\nonly-a");
        assertThat(sh(cloneB, "ls /tmp /data")).doesNotContain("a.txt");
        // Memory: the golden RAM file is mapped copy-on-write and never written (hashed in full here).
        GoldenSnapshot snapshot = GoldenSnapshot.open(golden);
        assertThat(FileDigests.sha256(snapshot.memory())).isEqualTo(snapshot.info().memory().sha256());
        assertThat(FileDigests.sha256(snapshot.vmstate())).isEqualTo(snapshot.info().vmstate().sha256());
        // Drives: the template's data drive and the golden copy are untouched.
        assertThat(FileDigests.sha256(runtime.vms.directory(template).resolve("data.ext4"))).isEqualTo(templateData);
        assertThat(FileDigests.sha256(snapshot.dataDrive().orElseThrow())).isEqualTo(snapshot.info().dataDrive().sha256());
    }

    @Test
    @Order(4)
    void aParameterMismatchIsRefusedNamingWhatDiffers() {
        String name = RuntimeFixture.uniqueName("mismatch");
        nics.put(name, new NicSpec(taps.create("m"), "52:54:00:c1:00:0c", "10.214.0.12", 24, "10.214.0.1"));
        assertThatThrownBy(() -> clones.runClone(spec(name, "s").vcpus(2).memoryMib(512).build(), golden))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION))
                .hasMessageContaining("vCPUs: snapshot 1, clone 2")
                .hasMessageContaining("memory (MiB): snapshot 256, clone 512");
        String noNic = RuntimeFixture.uniqueName("nonic");
        assertThatThrownBy(() -> clones.runClone(VmSpec.builder(noNic, runtime.image).memoryMib(256)
                .drive(new DriveSpec.Data(64)).build(), golden))
                .hasMessageContaining("the snapshot has a NIC, the clone none")
                .hasMessageContaining("the snapshot has a secrets drive, the clone none");
        assertThat(ProcessReaper.mentioning(runtime.dataDir.resolve("vms").resolve(name))).isEmpty();
        assertThat(runtime.vms.list()).extracting(VmStatus::name).doesNotContain(name, noNic);
    }

    @Test
    @Order(5)
    void aCorruptOrTruncatedSnapshotIsDetectedAndNeverRestored() throws Exception {
        Path corrupt = copyOfGolden("corrupt");
        try (RandomAccessFile file = new RandomAccessFile(corrupt.resolve(GoldenSnapshot.VMSTATE).toFile(), "rw")) {
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x5a);
        }
        assertRefusedBeforeLaunch(corrupt, "vmstate.bin has sha256");

        Path truncatedState = copyOfGolden("truncated-state");
        try (RandomAccessFile file = new RandomAccessFile(truncatedState.resolve(GoldenSnapshot.VMSTATE).toFile(), "rw")) {
            file.setLength(file.length() - 100);
        }
        assertRefusedBeforeLaunch(truncatedState, "vmstate.bin has");

        Path truncatedRam = copyOfGolden("truncated-ram");
        try (RandomAccessFile file = new RandomAccessFile(truncatedRam.resolve(GoldenSnapshot.MEMORY).toFile(), "rw")) {
            file.setLength(file.length() - 4096);
        }
        assertRefusedBeforeLaunch(truncatedRam, "memory.ram has");

        // A RAM file rewritten in place at the same size: its identity changed, so it is re-hashed.
        Path rewrittenRam = copyOfGolden("rewritten-ram");
        try (RandomAccessFile file = new RandomAccessFile(rewrittenRam.resolve(GoldenSnapshot.MEMORY).toFile(), "rw")) {
            file.seek(1 << 20);
            file.write(new byte[] {1, 2, 3, 4});
        }
        assertRefusedBeforeLaunch(rewrittenRam, "memory.ram has sha256");
    }

    private static Path copyOfGolden(String name) throws Exception {
        Path copy = runtime.dataDir.resolve("golden-" + name);
        Process cp = new ProcessBuilder("cp", "-a", "--sparse=always", golden.toString(), copy.toString()).inheritIO().start();
        assertThat(cp.waitFor()).isZero();
        // cp -a keeps mtime but the copy is a new inode: rewrite info.json's identities as if it had been saved here,
        // so only the damage below (and not the copy) can make the check re-hash.
        GoldenSnapshot original = GoldenSnapshot.open(copy);
        var info = original.info();
        var rewritten = new io.mvm.runtime.snapshot.SnapshotInfo(info.schemaVersion(), info.createdAt(), info.template(),
                info.backend(), info.backendVersion(), info.accelerator(), info.vcpus(), info.memoryMib(),
                info.imageBootArgs(), info.kernelCommandLine(), info.imageSha256(),
                withIdentity(copy, info.vmstate()), withIdentity(copy, info.memory()),
                info.dataDrive() == null ? null : withIdentity(copy, info.dataDrive()), info.driveSlots(), info.nic(),
                info.saveMillis());
        Files.setPosixFilePermissions(copy.resolve("info.json"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        GoldenSnapshot.write(copy, rewritten);
        for (String file : List.of(GoldenSnapshot.VMSTATE, GoldenSnapshot.MEMORY)) {
            Files.setPosixFilePermissions(copy.resolve(file), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        }
        return copy;
    }

    private static io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile withIdentity(Path dir,
            io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile file) {
        return new io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile(file.name(), file.bytes(), file.sha256(),
                FileDigests.identity(dir.resolve(file.name())));
    }

    private static void assertRefusedBeforeLaunch(Path snapshot, String problem) {
        String name = RuntimeFixture.uniqueName("bad");
        nics.put(name, nics.get(cloneB));
        long before = ProcessReaper.mentioning(snapshot).size();
        assertThatThrownBy(() -> clones.runClone(spec(name, "s").build(), snapshot))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION))
                .hasMessageContaining("is damaged, not restoring it")
                .hasMessageContaining(problem);
        assertThat(before).isZero();
        assertThat(ProcessReaper.mentioning(snapshot)).as("no VMM was started on a damaged snapshot").isEmpty();
        assertThat(runtime.dataDir.resolve("vms").resolve(name).resolve("handle.json")).doesNotExist();
    }

    @Test
    @Order(6)
    void aCloneSleepsAndWakesAndLearnsTheTimeAgain() {
        VmStatus asleep = runtime.vms.sleep(cloneB, Duration.ofSeconds(5));
        assertThat(asleep.state()).isEqualTo(InstanceState.SLEEPING);
        VmStatus awake = runtime.vms.wake(cloneB, java.util.Optional.of(Map.of("token", "secret-b-rotated")));
        assertThat(awake.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(sh(cloneB, "cat /run/mvm/generation")).isEqualTo("2");
        assertThat(sh(cloneB, "cat /run/secrets/token")).isEqualTo("secret-b-rotated");
        assertThat(sh(cloneB, "hostname")).isEqualTo(cloneB);
        // After its first sleep a clone owns its RAM file: the second sleep saves only device state.
        assertThat(runtime.vms.directory(cloneB).resolve("memory.ram")).exists();
        runtime.vms.sleep(cloneB, Duration.ofSeconds(5));
        assertThat(runtime.vms.handle(cloneB).snapshot()).satisfies(s -> assertThat(sizeOf(s)).isLessThan(1 << 20));
        runtime.vms.wake(cloneB, java.util.Optional.empty());
        assertThat(sh(cloneB, "cat /run/mvm/generation")).isEqualTo("3");
        assertThat(sh(cloneB, "ls /data")).doesNotContain("a.txt");
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    @Order(7)
    void deletingTheSnapshotWhileACloneRunsIsRefusedOrLeavesTheCloneItsRam() {
        long pidA = runtime.vms.handle(cloneA).pid();
        assertThat(GoldenSnapshotDeletion.mappers(golden)).contains(pidA);
        assertThatThrownBy(() -> GoldenSnapshotDeletion.delete(golden, false))
                .hasMessageContaining("in use by").hasMessageContaining(Long.toString(pidA));
        assertThat(golden).exists();

        GoldenSnapshotDeletion.delete(golden, true);
        assertThat(golden).doesNotExist();
        // The unlinked file lives on in the clone's mapping: the guest keeps running and touching its memory.
        assertThat(sh(cloneA, "dd if=/dev/zero of=/tmp/fill bs=1M count=32 2>/dev/null && cat /tmp/a.txt && rm /tmp/fill"))
                .isEqualTo("only-a");
        runtime.vms.pause(cloneA);
        runtime.vms.resume(cloneA);
        assertThat(sh(cloneA, "hostname")).isEqualTo(cloneA);
        assertThat(mapsOf(pidA)).contains(GoldenSnapshot.MEMORY + " (deleted)");
        // A new clone cannot be made any more, and says why.
        String late = RuntimeFixture.uniqueName("late");
        assertThatThrownBy(() -> clones.runClone(spec(late, "s").build(), golden))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND));
    }

    private static String mapsOf(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/maps"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
