package io.mvm.runtime.vm;

import io.mvm.model.Accelerator;
import io.mvm.runtime.accel.AcceleratorChoice;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.testing.HostCapabilities;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A real runtime for VM tests: the shared cached guest image, a private data dir under /tmp for
 * the VMs, the real QEMU backend. {@link #close()} kills every VMM it finds a handle for, removes
 * their cgroups and deletes the data dir, also after a failed test.
 */
final class RuntimeFixture implements AutoCloseable {
    final Path dataDir;
    final GuestImage image;
    final CgroupLimits cgroups = CgroupLimits.detect();
    final QemuBackend backend;
    final LocalVms vms;

    RuntimeFixture() throws IOException {
        HostCapabilities.requireVmHost();
        Path shared = HostCapabilities.testDataDir();
        image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Optional<Accelerator> override = Optional.ofNullable(System.getenv("MVM_ACCEL")).map(Accelerator::parse);
        AcceleratorChoice accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-rt-it-");
        backend = newBackend(accel);
        vms = new LocalVms(dataDir, backend, InstantSource.system());
        // VMMs are detached daemons: if the test JVM is killed (e.g. a surefire timeout), still reap them.
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    private final Thread shutdownHook = new Thread(() -> {
        try {
            cleanUp();
        } catch (IOException | RuntimeException ignored) {
            // best effort while the JVM goes down
        }
    });

    private QemuBackend newBackend(AcceleratorChoice accel) {
        return new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), cgroups, VirtioSerialGuestChannel::connect, InstantSource.system());
    }

    /** A second, independent runtime over the same data dir: what a restarted agent would build. */
    LocalVms restartedRuntime() {
        return new LocalVms(dataDir, newBackend(new AcceleratorChoice(backend.settings().accelerator(),
                backend.settings().acceleratorReason(), InstantSource.system().instant(), "")), InstantSource.system());
    }

    static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Override
    public void close() throws IOException {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to: it cleans up
        }
        cleanUp();
    }

    private synchronized void cleanUp() throws IOException {
        if (!Files.exists(dataDir)) {
            return;
        }
        // A VMM no handle names (launched in a crash window, or by a test that rewrote its handle).
        io.mvm.runtime.testing.ProcessReaper.killAllMentioning(dataDir);
        Path root = dataDir.resolve("vms");
        if (Files.isDirectory(root)) {
            try (Stream<Path> dirs = Files.list(root)) {
                for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                    try {
                        Optional<VmHandle> handle = new VmDirectory(dir).handle();
                        handle.map(VmHandle::process).ifPresent(VmmProcess::kill);
                        handle.map(h -> VmCgroup.decode(h.cgroup())).ifPresent(g -> {
                            handle.map(VmHandle::process).ifPresent(p -> waitGone(p));
                            cgroups.remove(g);
                        });
                    } catch (RuntimeException e) {
                        System.err.println("cleanup of " + dir + ": " + e.getMessage());
                    }
                }
            }
        }
        backend.settings().sandbox().releaseUnder(dataDir);
        try (Stream<Path> walk = Files.walk(dataDir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void waitGone(VmmProcess process) {
        for (int i = 0; i < 300 && process.isAlive(); i++) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
