package io.mvm.cli.bench;

import io.mvm.model.Accelerator;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.MemorySharing;
import io.mvm.runtime.template.TemplateStart;
import io.mvm.runtime.vm.LocalClones;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Clone vs cold boot of the same image and size, alternating in one process (like
 * {@link BootBenchmark}), plus a density measurement: the summed proportional set size (PSS) of ten
 * clones against ten cold-booted VMs. One template is booted and saved as a golden snapshot first.
 */
public final class CloneBenchmark {
    /**
     * One alternating run. {@code cloneToAnswerMs} ends at the guest agent's first answer,
     * {@code cloneMs} after the identity fix-up too (when a clone is usable); {@code coldMs} ends at
     * the first answer of a cold boot (which needs no fix-up). {@code clonePhasesMs}: where the clone's
     * time went (checks, drives, cgroup+journal, vmm start, device state, agent, identity, journal).
     */
    public record Run(int index, double cloneToAnswerMs, double cloneMs, double coldMs, double coldOverClone,
                      Map<String, Long> clonePhasesMs) {}

    /**
     * Summed PSS in KiB of {@code count} VMMs of each kind, all running at once, and the part of it
     * that is guest RAM (the mapping as large as the guest's memory: the golden file's copy-on-write
     * mapping in a clone, anonymous memory in a cold VM); the rest is QEMU's own memory (under TCG
     * mostly translated code and its tables), the same for both kinds.
     */
    public record Density(int count, long clonesPssKibTotal, long coldPssKibTotal, double clonesOverCold,
                          long clonesGuestRamPssKibTotal, long coldGuestRamPssKibTotal,
                          List<Long> perClonePssKib, List<Long> perColdPssKib) {}

    /**
     * Sleep and wake of one VM of {@code memoryMib} with {@code filledMib} of its RAM written first
     * (random bytes in /tmp, a tmpfs), medians over {@code cycles}: {@code fileBacked} keeps RAM in a
     * file (sleep writes device state only), {@code anonymous} is an ordinary VM (sleep writes RAM).
     */
    public record SleepWake(int memoryMib, int filledMib, int cycles, double fileBackedSleepMedianMs,
                            double fileBackedWakeMedianMs, long fileBackedSnapshotBytes, double anonymousSleepMedianMs,
                            double anonymousWakeMedianMs, long anonymousSnapshotBytes) {}

    public record Result(String accelerator, String kernel, int hostCpus, double loadAverageBefore, double loadAverageAfter,
                         int memoryMib, int warmupRuns, int runs, long templateSaveMs, long vmstateBytes, List<Run> perRun,
                         double cloneToAnswerMedianMs, double cloneToAnswerP99Ms, BenchStatistics.Interval cloneToAnswerMedianCi95,
                         double cloneMedianMs, double cloneP99Ms, double coldMedianMs, double coldP99Ms,
                         double coldOverCloneToAnswerOfMedians, double coldOverCloneMedianOfRuns,
                         BenchStatistics.Interval coldOverCloneMedianOfRunsCi95, Map<String, Double> clonePhaseMediansMs,
                         Density density, List<SleepWake> sleepWake, String template) {}

    /**
     * A template revision's golden snapshot to clone instead of one booted and saved by the
     * benchmark: clones and cold boots then use its image, vCPUs and memory and bring its drive
     * slots (empty drives, like every clone of a template: {@link TemplateStart#withSnapshotSlots}).
     */
    public record TemplateSnapshot(String name, GoldenSnapshot golden) {}

    private final LocalVms vms;
    private final LocalClones clones;
    private final GuestImage image;
    private final Accelerator accelerator;
    private final Path scratch;
    private final Consumer<String> progress;
    private final int memoryMib;
    private final Optional<TemplateSnapshot> templateSnapshot;

    public CloneBenchmark(LocalVms vms, GuestImage image, Accelerator accelerator, Path scratch, int memoryMib,
                          Consumer<String> progress) {
        this(vms, image, accelerator, scratch, memoryMib, progress, Optional.empty());
    }

    /** With {@code templateSnapshot}, {@code image} and {@code memoryMib} must be the template's. */
    public CloneBenchmark(LocalVms vms, GuestImage image, Accelerator accelerator, Path scratch, int memoryMib,
                          Consumer<String> progress, Optional<TemplateSnapshot> templateSnapshot) {
        this.templateSnapshot = templateSnapshot;
        this.vms = vms;
        this.clones = new LocalClones(vms);
        this.image = image;
        this.accelerator = accelerator;
        this.scratch = scratch;
        this.memoryMib = memoryMib;
        this.progress = progress;
    }

    public Result run(int warmups, int runs, int densityCount, List<Integer> sleepSizesMib, int sleepCycles) {
        double loadBefore = BootBenchmark.loadAverage();
        GoldenSnapshot golden;
        if (templateSnapshot.isPresent()) {
            golden = templateSnapshot.get().golden();
            progress.accept("cloning template " + templateSnapshot.get().name() + "'s golden snapshot " + golden.dir()
                    + " (saved in " + golden.info().saveMillis() + " ms, vmstate " + golden.info().vmstate().bytes() + " bytes)");
        } else {
            String template = "bench-tpl-" + suffix();
            clones.runTemplate(spec(template));
            Path goldenDir = scratch.resolve("golden");
            golden = clones.saveTemplate(template, goldenDir, Duration.ofSeconds(5));
            vms.destroy(template);
            progress.accept("template saved in " + golden.info().saveMillis() + " ms (vmstate " + golden.info().vmstate().bytes() + " bytes)");
        }
        for (int i = 1; i <= warmups; i++) {
            Run warm = measure(golden, i);
            progress.accept(String.format("warm-up %d/%d: clone %.0f ms to first answer (%.0f ms with identity), cold %.0f ms (not counted)",
                    i, warmups, warm.cloneToAnswerMs(), warm.cloneMs(), warm.coldMs()));
        }
        List<Run> results = new ArrayList<>();
        for (int i = 1; i <= runs; i++) {
            Run run = measure(golden, i);
            progress.accept(String.format("run %d/%d: clone %.0f ms to first answer (%.0f ms with identity) %s, cold %.0f ms (%.1fx)",
                    i, runs, run.cloneToAnswerMs(), run.cloneMs(), run.clonePhasesMs(), run.coldMs(), run.coldOverClone()));
            results.add(run);
        }
        Density density = densityCount > 0 ? density(golden, densityCount) : null;
        List<SleepWake> sleepWake = new ArrayList<>();
        for (int size : sleepSizesMib) {
            SleepWake measured = sleepWake(size, sleepCycles);
            progress.accept("sleep/wake at " + size + " MiB: " + measured);
            sleepWake.add(measured);
        }
        List<Double> toAnswer = results.stream().map(Run::cloneToAnswerMs).toList();
        List<Double> clone = results.stream().map(Run::cloneMs).toList();
        List<Double> cold = results.stream().map(Run::coldMs).toList();
        List<Double> ratios = results.stream().map(Run::coldOverClone).toList();
        Map<String, Double> phaseMedians = new LinkedHashMap<>();
        results.get(0).clonePhasesMs().keySet().forEach(phase -> phaseMedians.put(phase, BenchStatistics.round(BenchStatistics.median(
                results.stream().map(r -> (double) r.clonePhasesMs().getOrDefault(phase, 0L)).toList()))));
        BenchStatistics.Interval answerCi = BenchStatistics.bootstrapMedian95(toAnswer, 10_000, 20261203L);
        BenchStatistics.Interval ratioCi = BenchStatistics.bootstrapMedian95(ratios, 10_000, 20261203L);
        return new Result(accelerator.wireName(), image.kernelVersion(), Runtime.getRuntime().availableProcessors(),
                loadBefore, BootBenchmark.loadAverage(), memoryMib, warmups, runs, golden.info().saveMillis(),
                golden.info().vmstate().bytes(), results,
                BenchStatistics.round(BenchStatistics.median(toAnswer)), BenchStatistics.round(BenchStatistics.p99(toAnswer)), BenchStatistics.rounded(answerCi),
                BenchStatistics.round(BenchStatistics.median(clone)), BenchStatistics.round(BenchStatistics.p99(clone)),
                BenchStatistics.round(BenchStatistics.median(cold)), BenchStatistics.round(BenchStatistics.p99(cold)),
                BenchStatistics.round(BenchStatistics.median(cold) / BenchStatistics.median(toAnswer)),
                BenchStatistics.round(BenchStatistics.median(ratios)), BenchStatistics.rounded(ratioCi), phaseMedians, density, sleepWake,
                templateSnapshot.map(TemplateSnapshot::name).orElse(null));
    }

    private VmSpec spec(String name) {
        if (templateSnapshot.isPresent()) {
            var info = templateSnapshot.get().golden().info();
            List<String> differences = new ArrayList<>();
            VmSpec padded = TemplateStart.withSnapshotSlots(VmSpec.builder(name, image).vcpus(info.vcpus()).memoryMib(info.memoryMib()).build(),
                    info, differences);
            if (!differences.isEmpty()) {
                throw MvmException.precondition("template " + templateSnapshot.get().name() + "'s snapshot cannot be"
                        + " benchmarked: " + String.join("; ", differences));
            }
            return padded;
        }
        return VmSpec.builder(name, image).vcpus(1).memoryMib(memoryMib).build();
    }

    /** A clone and a cold boot, in an order that swaps every run so host drift favours neither. */
    private Run measure(GoldenSnapshot golden, int index) {
        boolean cloneFirst = index % 2 == 1;
        double[] cloneTimes = null;
        Map<String, Long> phases = null;
        double cold = -1;
        for (int step = 0; step < 2; step++) {
            boolean doClone = (step == 0) == cloneFirst;
            String name = (doClone ? "bench-clone-" : "bench-cold-") + suffix();
            try {
                long t0 = System.nanoTime();
                if (doClone) {
                    MemorySharing.ClonedVm cloned = clones.runClone(spec(name), golden.dir());
                    double total = millisSince(t0);
                    // The first answer came before the identity fix-up and the final journal write.
                    double afterAnswer = cloned.phaseMillis().getOrDefault("identity", 0L)
                            + cloned.phaseMillis().getOrDefault("journal", 0L);
                    cloneTimes = new double[] {BenchStatistics.round(total - afterAnswer), total};
                    phases = cloned.phaseMillis();
                } else {
                    vms.run(spec(name));
                    cold = millisSince(t0);
                }
            } finally {
                destroyQuietly(name);
            }
        }
        return new Run(index, cloneTimes[0], cloneTimes[1], cold, BenchStatistics.round(cold / cloneTimes[0]), phases);
    }

    /** {@code count} clones running at once, then {@code count} cold-booted VMs: summed PSS of their VMMs. */
    private Density density(GoldenSnapshot golden, int count) {
        long[] cloneRam = new long[1];
        List<Long> clonePss = runAllThenMeasure(count, "bench-dclone-", name -> clones.runClone(spec(name), golden.dir()), cloneRam);
        progress.accept("density: " + count + " clones, PSS " + clonePss + " KiB (guest RAM " + cloneRam[0] + " KiB)");
        long[] coldRam = new long[1];
        List<Long> coldPss = runAllThenMeasure(count, "bench-dcold-", name -> vms.run(spec(name)), coldRam);
        progress.accept("density: " + count + " cold VMs, PSS " + coldPss + " KiB (guest RAM " + coldRam[0] + " KiB)");
        long clonesSum = clonePss.stream().mapToLong(Long::longValue).sum();
        long coldSum = coldPss.stream().mapToLong(Long::longValue).sum();
        return new Density(count, clonesSum, coldSum, BenchStatistics.round((double) clonesSum / coldSum), cloneRam[0], coldRam[0],
                clonePss, coldPss);
    }

    private List<Long> runAllThenMeasure(int count, String prefix, Consumer<String> start, long[] guestRamTotal) {
        List<String> names = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                String name = prefix + i + "-" + suffix();
                names.add(name);
                start.accept(name);
            }
            // Every guest has answered its agent: measure them all at the same moment.
            List<Long> pss = new ArrayList<>();
            for (String name : names) {
                long pid = vms.handle(name).pid();
                pss.add(pssKib(pid));
                guestRamTotal[0] += guestRamPssKib(pid, (long) memoryMib << 20);
            }
            return pss;
        } finally {
            names.forEach(this::destroyQuietly);
        }
    }

    private SleepWake sleepWake(int sizeMib, int cycles) {
        int filled = sizeMib / 4;
        double[] file = sleepWakeCycles(sizeMib, filled, cycles, true);
        double[] anonymous = sleepWakeCycles(sizeMib, filled, cycles, false);
        return new SleepWake(sizeMib, filled, cycles, file[0], file[1], (long) file[2], anonymous[0], anonymous[1],
                (long) anonymous[2]);
    }

    /** Median sleep ms, median wake ms, last snapshot size. */
    private double[] sleepWakeCycles(int sizeMib, int filledMib, int cycles, boolean fileBacked) {
        String name = (fileBacked ? "bench-file-" : "bench-anon-") + sizeMib + "-" + suffix();
        VmSpec spec = VmSpec.builder(name, image).vcpus(1).memoryMib(sizeMib).build();
        try {
            if (fileBacked) {
                clones.runTemplate(spec);
            } else {
                vms.run(spec);
            }
            try (var guest = vms.guest(name)) {
                var filled = guest.exec(io.mvm.runtime.guest.GuestChannel.ExecRequest.of(Duration.ofMinutes(5), "sh", "-c",
                        "dd if=/dev/urandom of=/tmp/fill bs=1M count=" + filledMib + " 2>/dev/null"));
                if (filled.exitCode() != 0) {
                    throw MvmException.internal("cannot fill guest memory: " + filled.stderrText(), null);
                }
            }
            List<Double> sleeps = new ArrayList<>();
            List<Double> wakes = new ArrayList<>();
            long snapshotBytes = 0;
            for (int i = 0; i < cycles; i++) {
                long t0 = System.nanoTime();
                vms.sleep(name, Duration.ofSeconds(5));
                sleeps.add(millisSince(t0));
                snapshotBytes = Files.size(vms.handle(name).snapshot());
                long t1 = System.nanoTime();
                vms.wake(name, java.util.Optional.empty());
                wakes.add(millisSince(t1));
            }
            return new double[] {BenchStatistics.round(BenchStatistics.median(sleeps)), BenchStatistics.round(BenchStatistics.median(wakes)), snapshotBytes};
        } catch (IOException e) {
            throw MvmException.internal("cannot read the snapshot size: " + e.getMessage(), e);
        } finally {
            destroyQuietly(name);
        }
    }

    /** Proportional set size: shared pages count once in total across the processes that share them. */
    static long pssKib(long pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup")).stream()
                    .filter(line -> line.startsWith("Pss:"))
                    .mapToLong(line -> Long.parseLong(line.replaceAll("[^0-9]", "")))
                    .findFirst().orElseThrow(() -> MvmException.internal("no Pss line for pid " + pid, null));
        } catch (IOException e) {
            throw MvmException.internal("cannot read smaps_rollup of pid " + pid + ": " + e.getMessage(), e);
        }
    }

    /** PSS of the mappings exactly as large as guest RAM (from /proc/PID/smaps). */
    static long guestRamPssKib(long pid, long ramBytes) {
        try {
            long total = 0;
            boolean inRam = false;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps"))) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash > 0 && space > dash && line.substring(0, dash).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                    long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                    inRam = end - start == ramBytes;
                } else if (inRam && line.startsWith("Pss:")) {
                    total += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return total;
        } catch (IOException e) {
            throw MvmException.internal("cannot read smaps of pid " + pid + ": " + e.getMessage(), e);
        }
    }

    private void destroyQuietly(String name) {
        try {
            vms.destroy(name);
        } catch (MvmException ignored) {
            // never created
        }
    }



    private static String suffix() {
        return Long.toHexString(System.nanoTime() & 0xffffffL);
    }

    private static double millisSince(long t0) {
        return BenchStatistics.round((System.nanoTime() - t0) / 1e6);
    }

}
