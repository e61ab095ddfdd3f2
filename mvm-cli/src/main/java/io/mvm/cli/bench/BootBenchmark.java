package io.mvm.cli.bench;

import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.qemu.SerialLog;
import io.mvm.runtime.state.DirectoryTree;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Boot-time benchmark, alternating in one process so host load hits all three alike:
 * (a) bare QEMU with the same kernel, initramfs, rootfs and devices, to the guest agent's first answer;
 * (b) mvm cold start to a healthy guest agent; (c) wake from a snapshot to a healthy guest agent.
 */
public final class BootBenchmark {
    /**
     * One alternating run. {@code bareMs} and {@code coldMs} end at the same point, the guest agent
     * answering {@code health}; {@code bareToMarkerMs} is bare QEMU's time to the console's ready line.
     */
    public record Run(int index, double bareMs, double bareToMarkerMs, double coldMs, double wakeMs, double coldOverBare) {}

    private record BareTimes(double toMarkerMs, double toAgentMs) {}

    /**
     * {@code coldOverBare} and {@code wakeOverCold} are ratios of medians (as in earlier result
     * files); {@code coldOverBareOfMinimums} compares the least noisy runs of each side;
     * {@code coldOverBareMedianOfRuns} is the median of the per-run ratios (each run pairs the two
     * sides under the same host load) with its 95% bootstrap interval.
     */
    public record Result(String accelerator, String kernel, int hostCpus, double loadAverageBefore, double loadAverageAfter,
                         int warmupRuns, int runs, List<Run> perRun,
                         double bareMedianMs, double coldMedianMs, double wakeMedianMs,
                         double bareMinMs, double coldMinMs, double wakeMinMs,
                         double coldOverBare, double coldOverBareOfMinimums, double coldOverBareMedianOfRuns,
                         BenchStatistics.Interval coldOverBareMedianOfRunsCi95, double wakeOverCold) {}

    private final LocalVms vms;
    private final GuestImage image;
    private final Accelerator accelerator;
    private final Path scratch;
    private final Consumer<String> progress;

    public BootBenchmark(LocalVms vms, GuestImage image, Accelerator accelerator, Path scratch, Consumer<String> progress) {
        this.vms = vms;
        this.image = image;
        this.accelerator = accelerator;
        this.scratch = scratch;
        this.progress = progress;
    }

    /**
     * {@code warmups} untimed runs first (class loading, JIT, the image in the page cache would
     * otherwise all land on the first measured run), then {@code runs} measured ones.
     */
    public Result run(int warmups, int runs) {
        double loadBefore = loadAverage();
        String name = "bench-" + Long.toHexString(System.nanoTime() & 0xffffffL);
        for (int i = 1; i <= warmups; i++) {
            Run warm = measure(name, i);
            progress.accept(String.format("warm-up %d/%d: bare %.0f ms, mvm cold %.0f ms, wake %.0f ms (not counted)",
                    i, warmups, warm.bareMs(), warm.coldMs(), warm.wakeMs()));
        }
        List<Run> results = new ArrayList<>();
        for (int i = 1; i <= runs; i++) {
            Run run = measure(name, i);
            progress.accept(String.format("run %d/%d: bare %.0f ms (console line %.0f ms), mvm cold %.0f ms (%.3fx), wake %.0f ms",
                    i, runs, run.bareMs(), run.bareToMarkerMs(), run.coldMs(), run.coldOverBare(), run.wakeMs()));
            results.add(run);
        }
        List<Double> bare = results.stream().map(Run::bareMs).toList();
        List<Double> cold = results.stream().map(Run::coldMs).toList();
        List<Double> wake = results.stream().map(Run::wakeMs).toList();
        List<Double> ratios = results.stream().map(Run::coldOverBare).toList();
        double bareMedian = BenchStatistics.round(BenchStatistics.median(bare));
        double coldMedian = BenchStatistics.round(BenchStatistics.median(cold));
        double wakeMedian = BenchStatistics.round(BenchStatistics.median(wake));
        BenchStatistics.Interval ci = BenchStatistics.bootstrapMedian95(ratios, 10_000, 20261122L);
        return new Result(accelerator.wireName(), image.kernelVersion(), Runtime.getRuntime().availableProcessors(),
                loadBefore, loadAverage(), warmups, runs, results,
                bareMedian, coldMedian, wakeMedian,
                BenchStatistics.min(bare), BenchStatistics.min(cold), BenchStatistics.min(wake),
                BenchStatistics.round(coldMedian / bareMedian), BenchStatistics.round(BenchStatistics.min(cold) / BenchStatistics.min(bare)),
                BenchStatistics.round(BenchStatistics.median(ratios)), new BenchStatistics.Interval(BenchStatistics.round(ci.low()), BenchStatistics.round(ci.high())),
                BenchStatistics.round(wakeMedian / coldMedian));
    }

    /** One pair of bare QEMU and mvm cold start, in an order that swaps every run, then a wake. */
    private Run measure(String name, int index) {
        // Swap the order every run so a drift in host load does not favour one side.
        boolean bareFirst = index % 2 == 1;
        BareTimes bare = bareFirst ? bareBoot() : null;
        VmSpec spec = VmSpec.builder(name, image).vcpus(1).memoryMib(256).build();
        double cold;
        double wake;
        try {
            long t0 = System.nanoTime();
            vms.run(spec);
            cold = millisSince(t0);
            vms.sleep(name, Duration.ofSeconds(5));
            long t1 = System.nanoTime();
            vms.wake(name, Optional.empty());
            wake = millisSince(t1);
        } finally {
            try {
                vms.destroy(name);
            } catch (MvmException ignored) {
                // nothing was created
            }
        }
        if (!bareFirst) {
            bare = bareBoot();
        }
        return new Run(index, bare.toAgentMs(), bare.toMarkerMs(), cold, wake, BenchStatistics.round(cold / bare.toAgentMs()));
    }

    /** The 1-minute load average, or -1 where /proc/loadavg cannot be read. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * A plain QEMU child with the same devices, timed to the ready line on the serial console and
     * then to the guest agent's first health answer, the point mvm's cold start ends at.
     */
    private BareTimes bareBoot() {
        Path dir;
        try {
            dir = Files.createTempDirectory(scratch, "bare-");
        } catch (IOException e) {
            throw MvmException.internal("cannot create " + scratch + ": " + e.getMessage(), e);
        }
        Path serial = dir.resolve("serial.log");
        Process qemu = null;
        try {
            long t0 = System.nanoTime();
            qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-M", "microvm,accel=" + accelerator.wireName(),
                    "-nodefaults", "-no-user-config", "-nographic", "-m", "256", "-smp", "1",
                    "-kernel", image.kernel().toString(), "-initrd", image.initramfs().toString(),
                    "-append", image.bootArgs() + " mvm.hostname=bare",
                    "-serial", "file:" + serial,
                    "-drive", "id=root,file=" + image.rootfs() + ",format=raw,if=none,readonly=on",
                    "-device", "virtio-blk-device,drive=root",
                    "-device", "virtio-serial-device",
                    "-chardev", "socket,id=agent,path=" + dir.resolve("agent.sock") + ",server=on,wait=off",
                    "-device", "virtserialport,chardev=agent,name=io.mvm.agent"))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
            SerialLog log = new SerialLog(serial);
            long deadline = t0 + TimeUnit.SECONDS.toNanos(120);
            while (!log.contains(SerialLog.GUEST_READY_MARKER)) {
                if (!qemu.isAlive() || System.nanoTime() > deadline) {
                    throw new MvmException(ErrorCategory.UNAVAILABLE, "bare QEMU did not reach the ready marker: "
                            + SerialLog.tail(serial, 5));
                }
                Thread.sleep(5);
            }
            double toMarker = millisSince(t0);
            try (GuestChannel agent = VirtioSerialGuestChannel.connect(dir.resolve("agent.sock"))) {
                agent.health(Duration.ofSeconds(30));
            }
            return new BareTimes(toMarker, millisSince(t0));
        } catch (IOException e) {
            throw MvmException.internal("cannot run QEMU: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted", e);
        } finally {
            if (qemu != null) {
                qemu.destroyForcibly();
                try {
                    qemu.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            DirectoryTree.deleteQuietly(dir);
        }
    }

    private static double millisSince(long t0) {
        return BenchStatistics.round((System.nanoTime() - t0) / 1e6);
    }


}
