package io.mvm.runtime.bootstrap;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Prepares a host to run microVMs: makes sure the host programs are there (installing the missing
 * Debian packages with apt when it may, or saying exactly what to install when it may not), then
 * ensures the default guest image. Every step is idempotent, so a second run only checks.
 */
public final class HostBootstrap {

    public static final List<HostTool> REQUIRED_TOOLS = List.of(
            new HostTool("qemu-system-x86_64", "qemu-system-x86", "runs the microVMs"),
            new HostTool("busybox", "busybox-static", "the guest's userland (statically linked)"),
            new HostTool("mkfs.ext4", "e2fsprogs", "builds the rootfs and drive images"),
            new HostTool("nft", "nftables", "isolates tenant networks"),
            new HostTool("ip", "iproute2", "creates bridges, taps and namespaces"),
            new HostTool("ping", "iputils-ping", "checks guest networking"),
            new HostTool("dpkg-deb", "dpkg", "unpacks the guest kernel package"),
            new HostTool("apt-get", "apt", "downloads the guest kernel package"),
            new HostTool("xz", "xz-utils", "unpacks xz-compressed kernel modules"),
            new HostTool("zstd", "zstd", "unpacks zstd-compressed kernel modules"));

    /**
     * @param kernelPin a guest kernel version to use instead of the newest apt offers
     * @param install   whether missing packages may be installed (false: only report them)
     */
    public record Options(Path dataDir, Optional<String> kernelPin, boolean install) {}

    /** What the run did: packages it installed (empty on a prepared host) and the image. */
    public record Outcome(List<String> installedPackages, GuestImage image) {}

    private final HostProbe probe;
    private final Consumer<List<String>> packageInstaller;
    private final InstantSource clock;

    public HostBootstrap(HostProbe probe, Consumer<List<String>> packageInstaller, InstantSource clock) {
        this.probe = probe;
        this.packageInstaller = packageInstaller;
        this.clock = clock;
    }

    /** The real host, installing with apt-get. */
    public static HostBootstrap forThisHost(ProgressListener progress) {
        return new HostBootstrap(HostProbe.system(), packages -> aptInstall(packages, progress), InstantSource.system());
    }

    public Outcome run(Options options, ProgressListener progress) {
        ImageBuilder images = new ImageBuilder(options.dataDir(), options.kernelPin(), clock, progress);
        List<String> installed = ensureTools(options.install(), progress);
        GuestImage image = images.ensure(ImageBuilder.DEFAULT_IMAGE);
        return new Outcome(installed, image);
    }

    /** Checks the host tools and installs what is missing when allowed; returns the packages installed. */
    List<String> ensureTools(boolean install, ProgressListener progress) {
        List<HostTool> missing = missing();
        if (missing.isEmpty()) {
            progress.step("host tools: all present (" + String.join(", ", REQUIRED_TOOLS.stream().map(HostTool::command).toList()) + ")");
            return List.of();
        }
        Set<String> packages = new LinkedHashSet<>();
        missing.forEach(t -> packages.add(t.debianPackage()));
        String what = describe(missing);
        String command = "apt-get install -y " + String.join(" ", packages);
        if (!install) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "missing host tools: " + what
                    + "; install them with: " + command + " (or run mvm bootstrap without --no-install as root)");
        }
        if (!probe.hasApt()) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "missing host tools: " + what
                    + "; this host has no apt, so install the equivalents of the Debian packages " + String.join(" ", packages));
        }
        if (!probe.isRoot()) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "missing host tools: " + what
                    + "; run mvm bootstrap as root to install them, or run: sudo " + command);
        }
        progress.step("installing " + String.join(" ", packages) + " for " + what);
        packageInstaller.accept(List.copyOf(packages));
        List<HostTool> stillMissing = missing();
        if (!stillMissing.isEmpty()) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "still missing after apt-get install: " + describe(stillMissing));
        }
        progress.step("host tools: installed " + String.join(" ", packages));
        return List.copyOf(packages);
    }

    private List<HostTool> missing() {
        List<HostTool> missing = new ArrayList<>();
        for (HostTool tool : REQUIRED_TOOLS) {
            if (probe.find(tool).isEmpty()) {
                missing.add(tool);
            }
        }
        return missing;
    }

    private static String describe(List<HostTool> tools) {
        return String.join(", ", tools.stream().map(t -> t.command() + " (package " + t.debianPackage() + ", " + t.purpose() + ")").toList());
    }

    private static void aptInstall(List<String> packages, ProgressListener progress) {
        Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
        progress.step("apt-get update");
        HostProgram.of("apt-get", "update", "-q").env(env).timeout(Duration.ofMinutes(10)).run();
        List<String> argv = new ArrayList<>(List.of("apt-get", "install", "-y", "-q", "--no-install-recommends"));
        argv.addAll(packages);
        progress.step(String.join(" ", argv));
        HostProgram.of(argv).env(env).timeout(Duration.ofMinutes(20)).run();
    }
}
