package io.mvm.runtime.image;

import io.mvm.model.MvmException;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Gets the guest kernel from Debian's {@code linux-image-<version>-cloud-amd64} packages through
 * apt only ({@code apt-get download}, then {@code dpkg-deb -x}); no other network source. Unpacked
 * packages are cached under {@code <dataDir>/cache/} and reused.
 */
public final class DebianKernelSource {
    private static final Pattern CONCRETE = Pattern.compile("linux-image-(\\d+\\.\\d+\\.\\d+[^\\s]*-cloud-amd64)");
    private static final Pattern PIN = Pattern.compile("[0-9][0-9A-Za-z.+~-]*");
    private static final Map<String, String> NON_INTERACTIVE = Map.of("DEBIAN_FRONTEND", "noninteractive");

    private final Path cacheDir;
    private final ProgressListener progress;

    public DebianKernelSource(Path cacheDir, ProgressListener progress) {
        this.cacheDir = cacheDir;
        this.progress = progress;
    }

    /** Package name for a pinned kernel: accepts {@code 6.1.0-56}, {@code 6.1.0-56-cloud-amd64} or the package name. */
    public static String packageForPin(String pin) {
        String version = pin.strip();
        if (version.startsWith("linux-image-")) {
            version = version.substring("linux-image-".length());
        }
        if (version.endsWith("-cloud-amd64")) {
            version = version.substring(0, version.length() - "-cloud-amd64".length());
        }
        if (!PIN.matcher(version).matches()) {
            throw MvmException.invalid("'" + pin + "' is not a kernel version such as 6.1.0-56 or 6.12.117+deb12");
        }
        return "linux-image-" + version + "-cloud-amd64";
    }

    /** The kernel release ({@code uname -r}) a concrete package installs, e.g. {@code 6.1.0-56-cloud-amd64}. */
    public static String kernelVersionOf(String packageName) {
        Matcher m = CONCRETE.matcher(packageName);
        if (!m.matches()) {
            throw new ImageBuildException(packageName + " is not a concrete linux-image-<version>-cloud-amd64 package");
        }
        return m.group(1);
    }

    /**
     * Picks the newest concrete cloud kernel among package names (meta-packages such as
     * {@code linux-image-cloud-amd64}, and -dbg or -unsigned variants, are ignored).
     */
    public static Optional<String> newest(Collection<String> packageNames) {
        return packageNames.stream()
                .map(String::strip)
                .filter(n -> CONCRETE.matcher(n).matches())
                .max(Comparator.comparing(DebianKernelSource::kernelVersionOf, DebianKernelSource::compareVersions));
    }

    /** Compares versions piecewise: runs of digits numerically, everything else as text. */
    static int compareVersions(String a, String b) {
        List<String> left = pieces(a);
        List<String> right = pieces(b);
        for (int i = 0; i < Math.min(left.size(), right.size()); i++) {
            String x = left.get(i);
            String y = right.get(i);
            int c;
            if (Character.isDigit(x.charAt(0)) && Character.isDigit(y.charAt(0))) {
                c = new java.math.BigInteger(x).compareTo(new java.math.BigInteger(y));
            } else {
                c = x.compareTo(y);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(left.size(), right.size());
    }

    private static List<String> pieces(String version) {
        return Pattern.compile("\\d+|\\D+").matcher(version).results().map(r -> r.group()).toList();
    }

    /** The package to use: the pinned one, else the newest apt knows (running apt-get update once if it knows none). */
    public String choosePackage(Optional<String> pin) {
        if (pin.isPresent()) {
            return packageForPin(pin.get());
        }
        Optional<String> newest = newest(searchApt());
        if (newest.isEmpty()) {
            progress.step("apt knows no cloud kernel package; running apt-get update");
            HostProgram.of("apt-get", "update", "-q").env(NON_INTERACTIVE).timeout(Duration.ofMinutes(10)).run();
            newest = newest(searchApt());
        }
        return newest.orElseThrow(() -> new ImageBuildException(
                "apt offers no linux-image-<version>-cloud-amd64 package; check the apt sources (Debian main) and run apt-get update"));
    }

    /** Every concrete cloud kernel package apt currently offers. */
    public List<String> availablePackages() {
        return searchApt().stream().filter(n -> CONCRETE.matcher(n).matches()).toList();
    }

    private List<String> searchApt() {
        String out = HostProgram.of("apt-cache", "search", "--names-only", "^linux-image-[0-9].*-cloud-amd64$")
                .timeout(Duration.ofMinutes(2)).run();
        return out.lines().map(line -> line.split(" - ", 2)[0].strip()).toList();
    }

    /** Downloads (unless cached) and unpacks the package; returns the unpacked root directory. */
    public Path fetch(String packageName) {
        return ExclusiveFileLock.holding(cacheDir.resolve(".fetch.lock"), () -> fetchLocked(packageName));
    }

    private Path fetchLocked(String packageName) {
        Path unpacked = cacheDir.resolve(packageName);
        Path vmlinuz = unpacked.resolve("boot").resolve("vmlinuz-" + kernelVersionOf(packageName));
        if (Files.isRegularFile(vmlinuz)) {
            progress.step("kernel package " + packageName + " already unpacked in " + unpacked);
            return unpacked;
        }
        try {
            Files.createDirectories(cacheDir);
            DirectoryTree.deleteQuietly(unpacked);
            try {
                return download(packageName, unpacked, cachedDeb(packageName).orElse(null));
            } catch (ImageBuildException e) {
                Optional<Path> cached = cachedDeb(packageName);
                if (cached.isEmpty()) {
                    throw e;
                }
                // A cached package that no longer unpacks (truncated, damaged): fetch it again once.
                progress.step("cached " + cached.get().getFileName() + " is damaged (" + e.getMessage() + "); downloading again");
                Files.delete(cached.get());
                return download(packageName, unpacked, null);
            }
        } catch (IOException e) {
            throw new ImageBuildException("cannot fetch " + packageName + " into " + cacheDir + ": " + e.getMessage(), e);
        }
    }

    private Path download(String packageName, Path unpacked, Path cachedDeb) {
        try {
            Path deb = cachedDeb;
            if (deb == null) {
                progress.step("downloading " + packageName + " with apt-get");
                Path downloads = Files.createTempDirectory(cacheDir, ".download-");
                try {
                    HostProgram.of("apt-get", "download", "-q", packageName)
                            .in(downloads).env(NON_INTERACTIVE).timeout(Duration.ofMinutes(15)).run();
                    Path fetched;
                    try (Stream<Path> files = Files.list(downloads)) {
                        fetched = files.filter(p -> p.getFileName().toString().endsWith(".deb")).findFirst()
                                .orElseThrow(() -> new ImageBuildException("apt-get download " + packageName + " produced no .deb"));
                    }
                    deb = cacheDir.resolve(fetched.getFileName());
                    Files.move(fetched, deb, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } finally {
                    DirectoryTree.deleteQuietly(downloads);
                }
                progress.step("downloaded " + deb.getFileName() + " (" + Files.size(deb) / (1024 * 1024) + " MiB)");
            } else {
                progress.step("using cached " + deb.getFileName());
            }
            progress.step("unpacking " + deb.getFileName());
            Path staging = Files.createTempDirectory(cacheDir, ".unpack-");
            try {
                HostProgram.of("dpkg-deb", "-x", deb.toString(), staging.toString()).timeout(Duration.ofMinutes(5)).run();
                Files.move(staging, unpacked, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                DirectoryTree.deleteQuietly(staging);
            }
            return unpacked;
        } catch (IOException e) {
            throw new ImageBuildException("cannot fetch " + packageName + " into " + cacheDir + ": " + e.getMessage(), e);
        }
    }

    private Optional<Path> cachedDeb(String packageName) throws IOException {
        try (Stream<Path> files = Files.list(cacheDir)) {
            return files.filter(p -> p.getFileName().toString().startsWith(packageName + "_")
                            && p.getFileName().toString().endsWith(".deb"))
                    .findFirst();
        }
    }
}
