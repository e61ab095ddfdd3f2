package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.testing.ProcessReaper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One clone through many pause/resume and sleep/wake cycles (the 100 and 50 by default;
 * {@code -Dmvm.soak.pauseCycles=N -Dmvm.soak.sleepCycles=M} to change them) with no failure and no
 * leak: this JVM's open file descriptors, files in the VM and snapshot directories (RAM files,
 * partial or discarded snapshots), VMM processes and taps are counted before and after.
 */
class CloneSoakIT {
    static final int PAUSE_CYCLES = Integer.getInteger("mvm.soak.pauseCycles", 100);
    static final int SLEEP_CYCLES = Integer.getInteger("mvm.soak.sleepCycles", 50);
    static RuntimeFixture runtime;
    static TestTaps taps;
    static LocalClones clones;
    static String clone;
    static Path golden;

    @BeforeAll
    static void cloneOnce() {
        try {
            runtime = new RuntimeFixture();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        taps = new TestTaps();
        clones = new LocalClones(runtime.vms);
        String template = RuntimeFixture.uniqueName("soak-tpl");
        clone = RuntimeFixture.uniqueName("soak");
        clones.runTemplate(spec(template, new NicSpec(taps.create("t"), "52:54:00:50:00:01", "10.215.0.2", 24, null), "t"));
        golden = runtime.dataDir.resolve("golden");
        clones.saveTemplate(template, golden, Duration.ofSeconds(5));
        runtime.vms.destroy(template);
        clones.runClone(spec(clone, new NicSpec(taps.create("c"), "52:54:00:50:00:02", "10.215.0.3", 24, null), "c"), golden);
    }

    static VmSpec spec(String name, NicSpec nic, String secret) {
        return VmSpec.builder(name, runtime.image).memoryMib(256).nic(nic)
                .drive(new DriveSpec.Secrets(Map.of("token", secret))).build();
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

    @Test
    void pauseResumeAndSleepWakeCyclesLeaveNothingBehind() throws Exception {
        // One wake first: a clone's first sleep writes its RAM and turns it into a VM with a RAM file of
        // its own, which is the steady state the cycles below must keep.
        runtime.vms.sleep(clone, Duration.ofSeconds(5));
        runtime.vms.wake(clone, Optional.empty());
        Path vmDir = runtime.vms.directory(clone);
        long fdsBefore = openFds();
        List<String> vmFilesBefore = files(vmDir);
        List<String> goldenFilesBefore = files(golden);
        int tapsBefore = taps.existing();
        long started = System.nanoTime();

        for (int i = 0; i < PAUSE_CYCLES; i++) {
            assertThat(runtime.vms.pause(clone).state()).isEqualTo(InstanceState.WARM);
            assertThat(runtime.vms.resume(clone).state()).isEqualTo(InstanceState.RUNNING);
        }
        long pauseMillis = (System.nanoTime() - started) / 1_000_000;
        long generation = generation();
        long sleepStarted = System.nanoTime();
        for (int i = 0; i < SLEEP_CYCLES; i++) {
            assertThat(runtime.vms.sleep(clone, Duration.ofSeconds(5)).state()).as("sleep " + i).isEqualTo(InstanceState.SLEEPING);
            assertThat(Files.size(runtime.vms.handle(clone).snapshot())).as("device state only").isLessThan(1 << 20);
            assertThat(runtime.vms.wake(clone, Optional.empty()).state()).as("wake " + i).isEqualTo(InstanceState.RUNNING);
        }
        long sleepMillis = (System.nanoTime() - sleepStarted) / 1_000_000;
        System.out.printf("soak: %d pause/resume cycles in %d ms, %d sleep/wake cycles in %d ms%n",
                PAUSE_CYCLES, pauseMillis, SLEEP_CYCLES, sleepMillis);

        // Every wake bumped the generation once (a retried identity call may bump it more, never less).
        assertThat(generation()).isGreaterThanOrEqualTo(generation + SLEEP_CYCLES);
        assertThat(sh("ip -o -4 addr show eth0")).contains("10.215.0.3/24");
        assertThat(sh("cat /run/secrets/token")).isEqualTo("c");
        // A handful of descriptors may come and go with class loading and logging; a leak per cycle would be 100+.
        assertThat(openFds()).isLessThanOrEqualTo(fdsBefore + 10);
        assertThat(files(vmDir)).isEqualTo(vmFilesBefore);
        assertThat(files(golden)).isEqualTo(goldenFilesBefore);
        assertThat(taps.existing()).isEqualTo(tapsBefore);
        assertThat(ProcessReaper.mentioning(vmDir)).as("exactly one VMM").hasSize(1);
        assertThat(GoldenSnapshot.open(golden).info().memory().bytes()).isEqualTo(256L << 20);
    }

    static String sh(String script) {
        try (GuestChannel guest = runtime.vms.guest(clone)) {
            GuestChannel.ExecResult result = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "sh", "-c", script));
            assertThat(result.exitCode()).as(script + ": " + result.stderrText()).isZero();
            return result.stdoutText().strip();
        }
    }

    static long generation() {
        return Long.parseLong(sh("cat /run/mvm/generation"));
    }

    static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** Names and sizes of the regular files (sockets and logs excluded: they are rewritten each cycle). */
    static List<String> files(Path dir) throws IOException {
        try (Stream<Path> all = Files.list(dir)) {
            return all.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().endsWith(".log"))
                    .filter(p -> !p.getFileName().toString().endsWith(".json"))
                    .map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
