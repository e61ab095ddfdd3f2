package io.mvm.runtime.image;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.model.MvmException;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Builds and caches the default guest image under {@code <dataDir>/images/<name>/}: the Debian
 * cloud kernel, an initramfs (static busybox, the virtio modules in dependency order, the stage-1
 * init) and a read-only ext4 rootfs labelled {@code mvm-root} (busybox, guest init, guest agent).
 *
 * <p>Building is idempotent and safe across processes: it runs under an exclusive file lock, in a
 * scratch directory that is renamed into place only when complete, so a reader sees either the
 * old image, the new one, or none.
 */
public final class ImageBuilder {
    public static final String DEFAULT_IMAGE = "default";
    public static final String KERNEL_FILE = "vmlinuz";
    public static final String INITRAMFS_FILE = "initramfs.cpio.gz";
    public static final String ROOTFS_FILE = "rootfs.ext4";
    public static final String METADATA_FILE = "image.json";
    public static final String ROOT_LABEL = "mvm-root";
    /** The kernel pin for {@link #ensureDefaultImage(Path, ProgressListener)}. */
    public static final String KERNEL_PIN_ENV = "MVM_GUEST_KERNEL";

    /** What the guest needs from the kernel; built-in ones are skipped, the rest loaded in depends= order. */
    static final List<String> GUEST_MODULES = List.of(
            "virtio", "virtio_ring", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
            "failover", "net_failover", "ext4");

    /**
     * The TSC flags avoid a hang at calibration under TCG; cryptomgr.notests skips the crypto
     * self-tests, about 15% of a TCG boot's CPU time; panic=-1 reboots at once on a kernel panic,
     * which QEMU's -no-reboot turns into an exit instead of a hang.
     */
    static final String BOOT_ARGS = "console=ttyS0 tsc_early_khz=2000000 tsc=reliable panic=-1 cryptomgr.notests quiet";

    private static final List<String> GUEST_SCRIPTS = List.of("init", "mvm-init", "mvm-agent", "mvm-workload", "gateway-setup.sh");
    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dataDir;
    private final Optional<String> kernelPin;
    private final InstantSource clock;
    private final ProgressListener progress;

    public ImageBuilder(Path dataDir, Optional<String> kernelPin, InstantSource clock, ProgressListener progress) {
        this.dataDir = dataDir.toAbsolutePath();
        this.kernelPin = kernelPin.filter(s -> !s.isBlank()).map(String::strip);
        this.clock = clock;
        this.progress = progress;
        this.kernelPin.ifPresent(DebianKernelSource::packageForPin);
    }

    /**
     * The default image, built if missing, incomplete, corrupt or made by another recipe. The
     * kernel can be pinned with the environment variable {@value #KERNEL_PIN_ENV}.
     */
    public static GuestImage ensureDefaultImage(Path dataDir, ProgressListener progress) {
        return new ImageBuilder(dataDir, Optional.ofNullable(System.getenv(KERNEL_PIN_ENV)), InstantSource.system(), progress)
                .ensure(DEFAULT_IMAGE);
    }

    /** An intact image (all artifacts present with the recorded checksums), or empty. */
    public static Optional<GuestImage> load(Path dataDir, String name) {
        return readIntact(dataDir.toAbsolutePath().resolve("images").resolve(name)).map(m -> toImage(dataDir.toAbsolutePath(), m));
    }

    public static Optional<ImageMetadata> metadata(Path dataDir, String name) {
        return readIntact(dataDir.toAbsolutePath().resolve("images").resolve(name));
    }

    public GuestImage ensure(String name) {
        validateName(name);
        Path images = dataDir.resolve("images");
        return ExclusiveFileLock.holding(images.resolve(".build.lock"), () -> {
            Optional<ImageMetadata> existing = readIntact(images.resolve(name));
            if (existing.isPresent() && isCurrent(existing.get())) {
                progress.step("guest image '" + name + "' is present (kernel " + existing.get().kernelVersion() + ")");
                return toImage(dataDir, existing.get());
            }
            progress.step(existing.isPresent()
                    ? "guest image '" + name + "' was built differently; rebuilding"
                    : "building guest image '" + name + "'");
            try {
                return build(name);
            } catch (IOException e) {
                throw new ImageBuildException("cannot build the guest image in " + images + ": " + e.getMessage(), e);
            }
        });
    }

    private boolean isCurrent(ImageMetadata metadata) {
        if (!recipe().equals(metadata.recipe())) {
            return false;
        }
        return kernelPin.map(pin -> DebianKernelSource.packageForPin(pin).equals(metadata.kernelPackage())).orElse(true);
    }

    private GuestImage build(String name) throws IOException {
        Path images = dataDir.resolve("images");
        DebianKernelSource kernels = new DebianKernelSource(dataDir.resolve("cache"), progress);
        String kernelPackage = kernels.choosePackage(kernelPin);
        String kernelVersion = DebianKernelSource.kernelVersionOf(kernelPackage);
        progress.step("guest kernel: " + kernelPackage);
        KernelTree kernel = KernelTree.open(kernels.fetch(kernelPackage), kernelVersion);
        Path busybox = StaticBusybox.find();

        Path scratch = Files.createTempDirectory(images, "." + name + ".build-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            Files.copy(kernel.vmlinuz(), scratch.resolve(KERNEL_FILE));

            List<KernelModule> modules = kernel.loadOrder(GUEST_MODULES);
            progress.step("initramfs: busybox + modules " + String.join(", ", modules.stream().map(KernelModule::name).toList())
                    + (kernel.builtin().isEmpty() ? "" : " (built in: " + String.join(", ",
                            GUEST_MODULES.stream().filter(kernel::isBuiltin).toList()) + ")"));
            writeInitramfs(scratch.resolve(INITRAMFS_FILE), busybox, kernel, modules);

            progress.step("rootfs: ext4 labelled " + ROOT_LABEL + " with busybox, mvm-init and mvm-agent");
            writeRootfs(scratch, scratch.resolve(ROOTFS_FILE), busybox);

            Map<String, String> artifacts = new LinkedHashMap<>();
            for (String file : List.of(KERNEL_FILE, INITRAMFS_FILE, ROOTFS_FILE)) {
                artifacts.put(file, sha256(scratch.resolve(file)));
            }
            ImageMetadata metadata = new ImageMetadata(ImageMetadata.FORMAT_VERSION, name, kernelPackage, kernelVersion,
                    clock.instant(), BOOT_ARGS, recipe(), modules.stream().map(KernelModule::name).toList(), artifacts);
            io.mvm.files.AtomicFile.write(scratch.resolve(METADATA_FILE), JSON.writeValueAsBytes(metadata));
            fsyncDirectory(scratch);

            Path target = images.resolve(name);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                Path old = images.resolve("." + name + ".old-" + System.nanoTime());
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                DirectoryTree.deleteQuietly(old);
            }
            Files.move(scratch, target, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(images);
            progress.step("guest image '" + name + "' ready in " + target + " (kernel " + kernelVersion + ")");
            return toImage(dataDir, metadata);
        } finally {
            DirectoryTree.deleteQuietly(scratch);
        }
    }

    private static void writeInitramfs(Path target, Path busybox, KernelTree kernel, List<KernelModule> modules) throws IOException {
        try (OutputStream file = Files.newOutputStream(target);
             GZIPOutputStream gzip = new GZIPOutputStream(file, 1 << 16)) {
            CpioArchive cpio = new CpioArchive(gzip);
            for (String dir : List.of("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules")) {
                cpio.directory(dir, 0755);
            }
            // The kernel opens /dev/console for init before anything can mount devtmpfs.
            cpio.characterDevice("dev/console", 0600, 5, 1);
            cpio.characterDevice("dev/null", 0666, 1, 3);
            cpio.file("bin/busybox", 0755, Files.readAllBytes(busybox));
            // Applet links made at build time, so stage 1 spends no boot time on busybox --install.
            for (String applet : HostProgram.of(busybox.toString(), "--list").run().lines().map(String::strip).toList()) {
                if (applet.matches("[a-z0-9_.+-]+") && !applet.equals("busybox")) {
                    cpio.symlink("bin/" + applet, "busybox");
                }
            }
            cpio.file("init", 0755, guestScript("init"));
            StringBuilder order = new StringBuilder();
            for (KernelModule module : modules) {
                cpio.file("lib/modules/" + module.name() + ".ko", 0644, kernel.decompressedBytes(module.name()));
                order.append(module.name()).append('\n');
            }
            cpio.file("lib/modules/load-order", 0644, order.toString().getBytes(StandardCharsets.UTF_8));
            cpio.finish();
            gzip.finish();
            file.flush();
        }
        fsync(target);
    }

    private static void writeRootfs(Path scratch, Path target, Path busybox) throws IOException {
        Path tree = scratch.resolve("rootfs-tree");
        for (String dir : List.of("bin", "sbin", "usr/bin", "usr/sbin", "etc", "etc/mvm-config", "dev", "proc", "sys",
                "tmp", "run", "var", "data", "root", "mnt")) {
            Files.createDirectories(tree.resolve(dir));
        }
        Files.setPosixFilePermissions(tree.resolve("root"), PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(tree.resolve("tmp"), PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.copy(busybox, tree.resolve("bin/busybox"));
        for (String applet : HostProgram.of(busybox.toString(), "--list-full").run().lines().map(String::strip).toList()) {
            if (applet.isEmpty() || applet.equals("bin/busybox")) {
                continue;
            }
            Path link = tree.resolve(applet);
            if (!link.normalize().startsWith(tree) || Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, Path.of("/bin/busybox"));
        }
        Map<String, String> rootfsScripts = Map.of(
                "mvm-init", "mvm-init", "mvm-agent", "mvm-agent", "mvm-workload", "mvm-workload",
                "gateway-setup.sh", "mvm-gateway-setup");
        for (Map.Entry<String, String> script : rootfsScripts.entrySet()) {
            Path file = tree.resolve("sbin").resolve(script.getValue());
            Files.write(file, guestScript(script.getKey()));
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.writeString(tree.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(tree.resolve("etc/group"), "root:x:0:\n");
        Files.writeString(tree.resolve("etc/hosts"), "127.0.0.1 localhost\n");
        Files.createSymbolicLink(tree.resolve("etc/resolv.conf"), Path.of("/run/resolv.conf"));
        // The rootfs is read-only and shared by every VM (and every clone of a snapshot): mvm-init
        // writes a fresh machine-id to /run at boot and the clone-identity call replaces it.
        Files.createSymbolicLink(tree.resolve("etc/machine-id"), Path.of("/run/machine-id"));

        long bytes;
        try (Stream<Path> walk = Files.walk(tree)) {
            bytes = walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> p.toFile().length()).sum();
        }
        long mib = Math.max(16, (bytes * 3 / 2) / (1024 * 1024) + 8);
        HostProgram.of("mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-O", "^has_journal", "-E", "root_owner=0:0",
                        "-N", "1024", "-m", "0", "-d", tree.toString(), target.toString(), mib + "M")
                .timeout(Duration.ofMinutes(5)).run();
        DirectoryTree.deleteQuietly(tree);
        fsync(target);
    }

    static byte[] guestScript(String name) {
        try (InputStream in = ImageBuilder.class.getResourceAsStream("/guest/" + name)) {
            if (in == null) {
                throw new ImageBuildException("guest script " + name + " is missing from the mvm build");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new ImageBuildException("cannot read guest script " + name, e);
        }
    }

    /** Everything but the kernel that decides what an image contains. */
    static String recipe() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(("format " + ImageMetadata.FORMAT_VERSION + "\nboot " + BOOT_ARGS + "\nmodules "
                    + String.join(",", GUEST_MODULES) + "\n").getBytes(StandardCharsets.UTF_8));
            for (String script : GUEST_SCRIPTS) {
                digest.update(script.getBytes(StandardCharsets.UTF_8));
                digest.update(guestScript(script));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Optional<ImageMetadata> readIntact(Path imageDir) {
        Path json = imageDir.resolve(METADATA_FILE);
        if (!Files.isRegularFile(json)) {
            return Optional.empty();
        }
        try {
            ImageMetadata metadata = JSON.readValue(json.toFile(), ImageMetadata.class);
            if (metadata.formatVersion() != ImageMetadata.FORMAT_VERSION || metadata.artifacts() == null) {
                return Optional.empty();
            }
            for (String file : List.of(KERNEL_FILE, INITRAMFS_FILE, ROOTFS_FILE)) {
                String expected = metadata.artifacts().get(file);
                Path artifact = imageDir.resolve(file);
                if (expected == null || !Files.isRegularFile(artifact) || !expected.equals(sha256(artifact))) {
                    return Optional.empty();
                }
            }
            return Optional.of(metadata);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static GuestImage toImage(Path dataDir, ImageMetadata metadata) {
        Path dir = dataDir.resolve("images").resolve(metadata.name());
        return new GuestImage(metadata.name(), dir.resolve(KERNEL_FILE), dir.resolve(INITRAMFS_FILE),
                dir.resolve(ROOTFS_FILE), metadata.kernelVersion(), metadata.bootArgs());
    }

    private static void validateName(String name) {
        if (name == null || !name.matches("[a-z0-9][a-z0-9._-]{0,62}")) {
            throw MvmException.invalid("'" + name + "' is not a valid image name (lower-case letters, digits, . _ -)");
        }
    }

    /** The hex SHA-256 of a file's content (what image.json's {@code artifacts} hold). */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }


    private static void fsync(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException ignored) {
            // not every filesystem lets a directory be fsynced; the rename itself is still atomic
        }
    }

}
