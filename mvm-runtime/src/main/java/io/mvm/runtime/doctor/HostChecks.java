package io.mvm.runtime.doctor;

import io.mvm.model.Accelerator;
import io.mvm.runtime.accel.AcceleratorChoice;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.firecracker.FirecrackerBackend;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.qemu.QemuVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The checks behind {@code mvm doctor}. Bridge, tap and nftables checks create and delete real
 * throwaway objects with random names, because "the tool is installed" does not prove "it works".
 */
public final class HostChecks {
    private static final long GIB = 1L << 30;

    private final Path dataDir;
    private final Supplier<Optional<GuestImage>> image;
    private final AcceleratorProbe probe;
    private final boolean reprobe;
    private final Optional<Accelerator> override;

    public HostChecks(Path dataDir, Supplier<Optional<GuestImage>> image, AcceleratorProbe probe, boolean reprobe,
                      Optional<Accelerator> override) {
        this.dataDir = dataDir;
        this.image = image;
        this.probe = probe;
        this.reprobe = reprobe;
        this.override = override;
    }

    public List<HostCheck> all() {
        return List.of(this::qemu, this::guestImage, this::accelerator, this::firecracker, this::cgroups, this::nftables,
                this::bridgeAndTap, this::freeDisk);
    }

    public List<CheckResult> runAll() {
        return all().stream().map(check -> {
            try {
                return check.run();
            } catch (RuntimeException e) {
                return CheckResult.fail("check", "the check itself failed: " + e.getMessage(), "report this as a bug");
            }
        }).toList();
    }

    CheckResult qemu() {
        String version = QemuVersion.of("qemu-system-x86_64");
        if (version.startsWith("unknown")) {
            return CheckResult.fail("qemu", version, "install QEMU: apt-get install qemu-system-x86 (or run mvm bootstrap)");
        }
        int major = Integer.parseInt(version.split("\\.")[0]);
        if (major < 6) {
            return CheckResult.warn("qemu", "QEMU " + version + " is old; microvm snapshots are tested with 7.2",
                    "upgrade qemu-system-x86 to 7.2 or newer");
        }
        return CheckResult.ok("qemu", "QEMU " + version);
    }

    /** Optional backend: never a failure, a WARN with the reason when this host cannot run it. */
    CheckResult firecracker() {
        Optional<Boolean> kvmBoots = AcceleratorProbe.read(dataDir.resolve(AcceleratorProbe.CACHE_FILE))
                .map(choice -> choice.accelerator() == Accelerator.KVM);
        FirecrackerBackend.Availability availability = FirecrackerBackend.availability("firecracker", Path.of("/dev/kvm"), kvmBoots);
        if (!availability.available()) {
            return CheckResult.warn("firecracker", availability.reason(),
                    "optional: install a firecracker release binary on PATH on a host whose KVM boots guests; --backend qemu works without it");
        }
        return CheckResult.ok("firecracker", availability.reason() + " (use --backend firecracker)");
    }

    CheckResult guestImage() {
        return image.get()
                .map(i -> CheckResult.ok("guest image", i.name() + " (kernel " + i.kernelVersion() + ")"))
                .orElseGet(() -> CheckResult.fail("guest image", "no default guest image under " + dataDir,
                        "run: mvm bootstrap --data-dir " + dataDir));
    }

    CheckResult accelerator() {
        if (override.isPresent()) {
            return CheckResult.ok("accelerator", override.get().wireName() + " (set by MVM_ACCEL)");
        }
        Optional<GuestImage> img = image.get();
        if (img.isEmpty()) {
            boolean device = Files.exists(Path.of("/dev/kvm"));
            return CheckResult.warn("accelerator", (device ? "/dev/kvm exists" : "no /dev/kvm")
                    + "; cannot probe KVM without a guest image", "run mvm bootstrap, then mvm doctor again");
        }
        Optional<AcceleratorChoice> cached = reprobe ? Optional.empty()
                : AcceleratorProbe.read(dataDir.resolve(AcceleratorProbe.CACHE_FILE))
                        .filter(c -> img.get().kernel().toString().equals(c.kernel()));
        AcceleratorChoice choice = cached.orElseGet(() -> probe.choose(deleteCache(), img.get(), Optional.empty()));
        String when = cached.isPresent() ? " (probed " + choice.decidedAt() + "; --reprobe to probe again)" : "";
        if (choice.accelerator() == Accelerator.KVM) {
            return CheckResult.ok("accelerator", "kvm: " + choice.reason() + when);
        }
        return CheckResult.warn("accelerator", "tcg: " + choice.reason() + when,
                "VMs run under software emulation (slower); for KVM enable virtualisation for this host");
    }

    private Path deleteCache() {
        try {
            Files.deleteIfExists(dataDir.resolve(AcceleratorProbe.CACHE_FILE));
        } catch (IOException ignored) {
            // choose() overwrites it anyway
        }
        return dataDir;
    }

    CheckResult cgroups() {
        CgroupLimits limits = CgroupLimits.detect();
        if (limits.available()) {
            return CheckResult.ok("cgroups", "vCPU and memory limits via " + limits.describe());
        }
        return CheckResult.warn("cgroups", limits.describe(),
                "mount the cpu and memory controllers (cgroup v2, or v1 at /sys/fs/cgroup/{cpu,memory}) to limit VMs");
    }

    CheckResult nftables() {
        String table = "mvm_doctor_" + randomSuffix();
        HostCommand add = HostCommand.run("nft", "add", "table", "inet", table);
        if (!add.ok()) {
            return CheckResult.fail("nftables", "cannot create an nftables table: " + add.firstLine(),
                    "install nftables (apt-get install nftables) and run as root");
        }
        HostCommand delete = HostCommand.run("nft", "delete", "table", "inet", table);
        if (!delete.ok()) {
            return CheckResult.warn("nftables", "created but could not delete table inet " + table + ": " + delete.firstLine(),
                    "nft delete table inet " + table);
        }
        return CheckResult.ok("nftables", "created and deleted a throwaway table");
    }

    CheckResult bridgeAndTap() {
        String suffix = randomSuffix().substring(0, 6);
        String bridge = "mvmdb" + suffix;
        String tap = "mvmdt" + suffix;
        try {
            HostCommand br = HostCommand.run("ip", "link", "add", "name", bridge, "type", "bridge");
            if (!br.ok()) {
                return CheckResult.fail("bridge/tap", "cannot create a bridge: " + br.firstLine(),
                        "install iproute2 and run as root (CAP_NET_ADMIN)");
            }
            HostCommand tp = HostCommand.run("ip", "tuntap", "add", "dev", tap, "mode", "tap");
            if (!tp.ok()) {
                return CheckResult.fail("bridge/tap", "cannot create a tap: " + tp.firstLine(),
                        "load the tun module (modprobe tun) and run as root");
            }
            HostCommand attach = HostCommand.run("ip", "link", "set", tap, "master", bridge);
            if (!attach.ok()) {
                return CheckResult.fail("bridge/tap", "cannot attach a tap to a bridge: " + attach.firstLine(),
                        "check that the bridge module is available");
            }
            return CheckResult.ok("bridge/tap", "created, attached and deleted a throwaway bridge and tap");
        } finally {
            HostCommand.run("ip", "link", "del", tap);
            HostCommand.run("ip", "link", "del", bridge);
        }
    }

    CheckResult freeDisk() {
        Path existing = dataDir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return CheckResult.fail("disk", "no existing parent of " + dataDir, "create the data directory");
        }
        try {
            long free = Files.getFileStore(existing).getUsableSpace();
            String detail = String.format("%.1f GiB free for %s", free / (double) GIB, dataDir);
            if (free < GIB) {
                return CheckResult.fail("disk", detail, "free space: VMs need room for drives and ~90 MB per snapshot");
            }
            if (free < 5 * GIB) {
                return CheckResult.warn("disk", detail, "keep at least 5 GiB free for images, drives and snapshots");
            }
            return CheckResult.ok("disk", detail);
        } catch (IOException e) {
            return CheckResult.fail("disk", "cannot read free space of " + existing + ": " + e.getMessage(), "check the data dir");
        }
    }

    private static String randomSuffix() {
        byte[] bytes = new byte[4];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
