package io.mvm.runtime.accel;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.qemu.SerialLog;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Decides between KVM and TCG by really booting the guest kernel under KVM with a deadline. On some
 * hosts {@code /dev/kvm} opens but a stock kernel hangs right after decompression; only a boot
 * that reaches the guest's ready marker proves KVM usable. The decision is cached per kernel.
 */
public final class AcceleratorProbe {
    public static final String CACHE_FILE = "accelerator.json";
    private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final String qemuBinary;
    private final Path kvmDevice;
    private final Duration timeout;
    private final InstantSource clock;

    public AcceleratorProbe(String qemuBinary, Path kvmDevice, Duration timeout, InstantSource clock) {
        this.qemuBinary = qemuBinary;
        this.kvmDevice = kvmDevice;
        this.timeout = timeout;
        this.clock = clock;
    }

    public static AcceleratorProbe standard(InstantSource clock) {
        return new AcceleratorProbe("qemu-system-x86_64", Path.of("/dev/kvm"), Duration.ofSeconds(30), clock);
    }

    /**
     * The accelerator to use: the override if given (e.g. from MVM_ACCEL), else the cached probe
     * result for this kernel, else a fresh probe (written to the cache).
     */
    public AcceleratorChoice choose(Path dataDir, GuestImage image, Optional<Accelerator> override) {
        if (override.isPresent()) {
            return new AcceleratorChoice(override.get(), "set by MVM_ACCEL=" + override.get().wireName(), clock.instant(),
                    image.kernel().toString());
        }
        Path cache = dataDir.resolve(CACHE_FILE);
        Optional<AcceleratorChoice> cached = read(cache).filter(c -> image.kernel().toString().equals(c.kernel()));
        if (cached.isPresent()) {
            return cached.get();
        }
        AcceleratorChoice choice = probe(image);
        try {
            Files.createDirectories(dataDir);
            AtomicFile.write(cache, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(choice));
        } catch (IOException e) {
            throw MvmException.internal("cannot write " + cache + ": " + e.getMessage(), e);
        }
        return choice;
    }

    public static Optional<AcceleratorChoice> read(Path cache) {
        if (!Files.isRegularFile(cache)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(cache.toFile(), AcceleratorChoice.class));
        } catch (IOException e) {
            return Optional.empty(); // a damaged cache is simply probed again
        }
    }

    /** Boots the guest under KVM once; TCG unless the guest reaches its ready marker in time. */
    public AcceleratorChoice probe(GuestImage image) {
        if (!Files.exists(kvmDevice)) {
            return tcg("no " + kvmDevice + " on this host", image);
        }
        if (!Files.isReadable(kvmDevice) || !Files.isWritable(kvmDevice)) {
            return tcg(kvmDevice + " is not accessible to this user", image);
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("mvm-kvm-probe-");
        } catch (IOException e) {
            throw MvmException.internal("cannot create a probe directory: " + e.getMessage(), e);
        }
        Path serial = dir.resolve("serial.log");
        Process qemu = null;
        try {
            qemu = new ProcessBuilder(List.of(qemuBinary, "-M", "microvm,accel=kvm", "-nodefaults", "-no-user-config",
                    "-nographic", "-m", "256", "-smp", "1",
                    "-kernel", image.kernel().toString(), "-initrd", image.initramfs().toString(),
                    "-append", image.bootArgs() + " mvm.hostname=kvm-probe",
                    "-drive", "id=root,file=" + image.rootfs() + ",format=raw,if=none,readonly=on",
                    "-device", "virtio-blk-device,drive=root",
                    "-serial", "file:" + serial))
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("qemu.log").toFile())
                    .start();
            SerialLog log = new SerialLog(serial);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (log.contains(SerialLog.GUEST_READY_MARKER)) {
                    return new AcceleratorChoice(Accelerator.KVM, "a probe boot under KVM reached the guest in time",
                            clock.instant(), image.kernel().toString());
                }
                if (!qemu.isAlive()) {
                    String out = Files.readString(dir.resolve("qemu.log")).strip();
                    return tcg("QEMU could not boot with KVM (exit " + qemu.exitValue() + "): "
                            + out.lines().limit(2).toList(), image);
                }
                Thread.sleep(50);
            }
            return tcg("/dev/kvm opens but a probe boot under KVM did not reach the guest within " + timeout.toSeconds() + " s"
                    + " (hangs after decompression on this host)", image);
        } catch (IOException e) {
            return tcg("cannot run " + qemuBinary + ": " + e.getMessage(), image);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted during the KVM probe", e);
        } finally {
            if (qemu != null) {
                qemu.destroyForcibly();
                try {
                    qemu.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            deleteQuietly(dir);
        }
    }

    private AcceleratorChoice tcg(String reason, GuestImage image) {
        return new AcceleratorChoice(Accelerator.TCG, reason + "; using TCG", clock.instant(), image.kernel().toString());
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // a temp dir left behind is harmless and rare
        }
    }
}
