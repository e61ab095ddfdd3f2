package io.mvm.cli.vm;

import io.mvm.model.Accelerator;
import io.mvm.runtime.accel.AcceleratorChoice;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.firecracker.FirecrackerBackend;
import io.mvm.runtime.firecracker.FirecrackerLauncher;
import io.mvm.runtime.guest.SharedGuestChannels;
import io.mvm.runtime.guest.VsockGuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.vm.LocalVms;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;

/**
 * Wires the local runtime for one data dir: accelerator (MVM_ACCEL, cached probe, or a fresh
 * probe boot when an image is at hand), cgroups, the backend (QEMU, or Firecracker when asked for and
 * available), and {@link LocalVms}.
 */
public final class LocalRuntime {
    private LocalRuntime() {}

    /** MVM_ACCEL, if set. */
    public static Optional<Accelerator> acceleratorOverride(Map<String, String> environment) {
        return Optional.ofNullable(environment.get("MVM_ACCEL")).filter(s -> !s.isBlank()).map(Accelerator::parse);
    }

    /**
     * @param image the image VMs will boot, when this command may start one (enables a probe);
     *              empty for commands that only observe or control existing VMs
     */
    public static LocalVms open(Path dataDir, Optional<GuestImage> image) {
        return open(dataDir, dataDir, image);
    }

    /** Like {@link #open(Path, Optional)} with a chosen backend; Firecracker fails fast when this host cannot run it. */
    public static LocalVms open(Path dataDir, Optional<GuestImage> image, BackendOption.Kind kind) {
        return switch (kind) {
            case QEMU -> open(dataDir, image);
            case FIRECRACKER -> new LocalVms(dataDir, firecracker(dataDir), InstantSource.system());
        };
    }

    /** Fails with the reason when this host cannot run the backend, before any image is fetched or VM made. */
    public static void requireAvailable(BackendOption.Kind kind, Path dataDir) {
        if (kind != BackendOption.Kind.FIRECRACKER) {
            return;
        }
        Optional<Boolean> kvmBoots = AcceleratorProbe.read(dataDir.resolve(AcceleratorProbe.CACHE_FILE))
                .map(choice -> choice.accelerator() == Accelerator.KVM);
        FirecrackerBackend.Availability availability = FirecrackerBackend.availability("firecracker", Path.of("/dev/kvm"), kvmBoots);
        if (!availability.available()) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, availability.reason());
        }
    }

    private static HypervisorBackend firecracker(Path dataDir) {
        requireAvailable(BackendOption.Kind.FIRECRACKER, dataDir);
        return new FirecrackerBackend(FirecrackerBackend.Settings.defaults(), new VmDrives(Ext4Image.system()),
                CgroupLimits.detect(), socket -> VsockGuestChannel.connect(socket, VsockGuestChannel.AGENT_PORT),
                FirecrackerLauncher.DETACHED, InstantSource.system());
    }

    /** VMs under {@code vmsDataDir}, with the accelerator decision cached in {@code hostDataDir}. */
    public static LocalVms open(Path vmsDataDir, Path hostDataDir, Optional<GuestImage> image) {
        Path dataDir = hostDataDir;
        InstantSource clock = InstantSource.system();
        Optional<Accelerator> override = acceleratorOverride(System.getenv());
        AcceleratorChoice choice = image
                .map(i -> AcceleratorProbe.standard(clock).choose(dataDir, i, override))
                .orElseGet(() -> override.map(a -> new AcceleratorChoice(a, "set by MVM_ACCEL", clock.instant(), ""))
                        .or(() -> AcceleratorProbe.read(dataDir.resolve(AcceleratorProbe.CACHE_FILE)))
                        .orElse(new AcceleratorChoice(Accelerator.TCG, "not probed yet", clock.instant(), "")));
        QemuBackend backend = new QemuBackend(QemuBackend.Settings.defaults(choice.accelerator(), choice.reason()),
                new VmDrives(Ext4Image.system()), CgroupLimits.detect(), new SharedGuestChannels(), clock);
        return new LocalVms(vmsDataDir, backend, clock);
    }
}
