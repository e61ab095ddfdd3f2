package io.mvm.runtime.testing;

import io.mvm.runtime.image.GuestImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A bare QEMU microvm booted from a guest image for the image/agent tests, following the boot
 * contract the runtime's QEMU backend uses (docs/guest-image.md). Everything it creates lives in
 * one directory under /tmp that {@link #close()} removes, after killing QEMU.
 */
public final class TestMicroVm implements AutoCloseable {
    private final Path dir;
    private final Process qemu;
    private final Path serialLog;
    private final Path agentSocket;

    private final Thread killOnExit;

    private TestMicroVm(Path dir, Process qemu, Path serialLog, Path agentSocket) {
        this.dir = dir;
        this.qemu = qemu;
        this.serialLog = serialLog;
        this.agentSocket = agentSocket;
        // A test JVM that is stopped (Ctrl-C, surefire timeout) must not leave QEMU running: kill our
        // child and anything else (a QEMU it spawned, a helper) whose command line names this work dir.
        this.killOnExit = new Thread(() -> {
            qemu.destroyForcibly();
            ProcessReaper.killAllMentioning(dir);
        }, "kill-test-qemu");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    /** A drive to attach after the rootfs: an ext4 image file, optionally read-only at the QEMU level. */
    public record Drive(Path file, boolean readOnly) {}

    public static Path newWorkDir(String prefix) throws IOException {
        return Files.createTempDirectory("mvm-img-test-" + prefix + "-" + UUID.randomUUID().toString().substring(0, 8) + "-");
    }

    public static TestMicroVm boot(GuestImage image, Path dir, String extraArgs, List<Drive> drives) throws IOException {
        return boot(image, dir, extraArgs, drives, List.of());
    }

    public static TestMicroVm boot(GuestImage image, Path dir, String extraArgs, List<Drive> drives, List<String> extraQemuArgs)
            throws IOException {
        Path serial = dir.resolve("serial.log");
        Path socket = dir.resolve("agent.sock");
        List<String> cmd = new ArrayList<>(List.of(
                "qemu-system-x86_64", "-M", "microvm,accel=tcg", "-m", "256", "-smp", "1",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-kernel", image.kernel().toString(), "-initrd", image.initramfs().toString(),
                "-append", (image.bootArgs() + " " + extraArgs).strip(),
                "-serial", "file:" + serial,
                "-drive", "id=root,file=" + image.rootfs() + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=root"));
        int n = 0;
        for (Drive drive : drives) {
            String id = "d" + n++;
            cmd.addAll(List.of("-drive", "id=" + id + ",file=" + drive.file() + ",format=raw,if=none"
                    + (drive.readOnly() ? ",readonly=on" : ""), "-device", "virtio-blk-device,drive=" + id));
        }
        cmd.addAll(List.of("-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,path=" + socket + ",server=on,wait=off",
                "-device", "virtserialport,chardev=agent,name=io.mvm.agent"));
        cmd.addAll(extraQemuArgs);
        Process process = new ProcessBuilder(cmd)
                .redirectOutput(dir.resolve("qemu.out").toFile())
                .redirectErrorStream(true)
                .start();
        return new TestMicroVm(dir, process, serial, socket);
    }

    public Path agentSocket() {
        return agentSocket;
    }

    public String serial() {
        try {
            return Files.exists(serialLog) ? Files.readString(serialLog, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "";
        }
    }

    public boolean isAlive() {
        return qemu.isAlive();
    }

    /** Waits for the guest's ready marker; fails with the serial log when QEMU dies or time runs out. */
    public void awaitReady(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (serial().lines().anyMatch("mvm-guest-ready"::equals)) {
                return;
            }
            if (!qemu.isAlive()) {
                throw new AssertionError("QEMU exited (" + qemu.exitValue() + ") before the guest was ready:\n" + describe());
            }
            Thread.sleep(100);
        }
        throw new AssertionError("guest not ready within " + timeout + ":\n" + describe());
    }

    public boolean waitForExit(Duration timeout) throws InterruptedException {
        return qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public String describe() {
        String out;
        try {
            out = Files.exists(dir.resolve("qemu.out")) ? Files.readString(dir.resolve("qemu.out")) : "";
        } catch (IOException e) {
            out = "";
        }
        return "--- serial ---\n" + serial() + "\n--- qemu ---\n" + out;
    }

    @Override
    public void close() {
        qemu.destroyForcibly();
        ProcessReaper.killAllMentioning(dir);
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to; it does the same
        }
        try {
            qemu.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Removes a test work directory and everything in it. */
    public static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort in test cleanup
        }
    }

    /** An ext4 image labelled {@code label} holding the files of {@code content}, built without mounting. */
    public static Path ext4(Path file, String label, Path content, int mib) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mkfs.ext4", "-q", "-F", "-L", label, "-E", "root_owner=0:0", "-d", content.toString(),
                file.toString(), mib + "M").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("mkfs.ext4 failed: " + out);
        }
        return file;
    }
}
