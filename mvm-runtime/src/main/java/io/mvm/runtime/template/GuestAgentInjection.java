package io.mvm.runtime.template;

import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.StaticBusybox;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts mvm's guest side into a user's root filesystem, so drives, secrets, health, exec, drain and
 * sleep/wake work exactly as in the default image: the same {@code /sbin/mvm-init},
 * {@code /sbin/mvm-agent}, {@code /sbin/mvm-workload} and {@code /sbin/mvm-gateway-setup} the default
 * image runs (the initramfs switches to {@code /sbin/mvm-init}), and the mount points they use.
 *
 * <p>A user's image has its own {@code /bin/sh} (dash, bash, busybox of another build) or none at
 * all (distroless), so the scripts cannot rely on it. mvm's static busybox goes to
 * {@code /.mvm/bin/busybox} with its applets linked beside it, where it cannot clash with the
 * image's files, and the scripts are rewritten to use it explicitly: {@code #!/.mvm/bin/sh} and
 * {@code /.mvm/bin} first on their PATH. The rewrites are exact text replacements checked against
 * the number of places each must match, so a change to a guest script that they no longer fit
 * fails the build (and {@code GuestAgentInjectionTest}) instead of producing an image that
 * half-works. The scripts themselves stay shared with the default image.
 */
public final class GuestAgentInjection {
    public static final String MVM_DIR = ".mvm";
    public static final String MVM_BIN = "/.mvm/bin";
    private static final String HOST_PATH = "export PATH=/sbin:/bin:/usr/sbin:/usr/bin";
    private static final String GUEST_PATH = "export PATH=" + MVM_BIN + ":/sbin:/bin:/usr/sbin:/usr/bin";

    /**
     * The default image has nothing under /var, so mvm-init mounts an empty tmpfs there. A user's
     * image often has (package state, cache and log directories its programs expect): its /var is
     * bind-mounted aside first and copied into the tmpfs, so it is there and writable. It costs the
     * guest RAM for what /var holds.
     */
    private static final String VAR_TMPFS = "mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var\n";
    private static final String VAR_TMPFS_WITH_IMAGE_CONTENT = """
            mkdir -p /run/mvm-image-var
            if mount --bind /var /run/mvm-image-var 2> /dev/null; then
                mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var
                cp -a /run/mvm-image-var/. /var/ || echo "mvm-init: cannot copy the image's /var" > /dev/console
                umount /run/mvm-image-var
            else
                mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var
            fi
            rmdir /run/mvm-image-var
            """;

    /** guest script resource → file name under /sbin (as ImageBuilder installs them). */
    private static final Map<String, String> SCRIPTS = scripts();

    /** Mount points mvm-init and the stage-1 init need, with their modes when created. */
    private static final Map<String, Integer> MOUNT_POINTS = mountPoints();

    private final Path busybox;
    private final List<String> applets;

    GuestAgentInjection(Path busybox, List<String> applets) {
        this.busybox = busybox;
        this.applets = List.copyOf(applets);
    }

    /** With the host's static busybox (package busybox-static) and the applets it offers. */
    public static GuestAgentInjection withHostBusybox() {
        Path busybox = StaticBusybox.find();
        List<String> applets = HostProgram.of(busybox.toString(), "--list").run().lines().map(String::strip)
                .filter(a -> a.matches("[a-z0-9_.+\\[-]+") && !a.equals("busybox")).toList();
        return new GuestAgentInjection(busybox, applets);
    }

    /** What the injection puts in: the rewritten scripts and the busybox binary. Part of a revision's recipe. */
    public String recipe() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(("mvm guest injection 3\nbusybox " + ImageBuilder.sha256(busybox) + "\n").getBytes(StandardCharsets.UTF_8));
            for (Map.Entry<String, String> script : SCRIPTS.entrySet()) {
                digest.update(script.getValue().getBytes(StandardCharsets.UTF_8));
                digest.update(rewrite(script.getKey(), guestScript(script.getKey())));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read " + busybox + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Adds mvm's guest side to the staging tree {@code root} (owned by root, like everything mvm adds). */
    public void inject(Path root) {
        try {
            Path mvm = root.resolve(MVM_DIR);
            DirectoryTree.delete(mvm); // an image's own /.mvm would shadow ours: ours wins
            Path bin = Files.createDirectories(mvm.resolve("bin"));
            Files.copy(busybox, bin.resolve("busybox"), StandardCopyOption.REPLACE_EXISTING);
            Files.setAttribute(bin.resolve("busybox"), "unix:mode", 0755);
            for (String applet : applets) {
                Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
            }
            Files.setAttribute(mvm, "unix:mode", 0755);
            Files.setAttribute(bin, "unix:mode", 0755);
            for (Map.Entry<String, Integer> mountPoint : MOUNT_POINTS.entrySet()) {
                ensureDirectory(root, mountPoint.getKey(), mountPoint.getValue());
            }
            linkMachineId(root);
            makeAbsoluteLinkRelative(root, "sbin");
            Path sbin = ensureDirectory(root, "sbin", 0755);
            for (Map.Entry<String, String> script : SCRIPTS.entrySet()) {
                Path file = sbin.resolve(script.getValue());
                DirectoryTree.delete(file);
                Files.write(file, rewrite(script.getKey(), guestScript(script.getKey())));
                Files.setAttribute(file, "unix:uid", 0, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(file, "unix:gid", 0, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(file, "unix:mode", 0755);
            }
        } catch (IOException e) {
            throw new TemplateBuildException("cannot add mvm's guest agent to the image: " + e.getMessage(), e);
        }
    }

    /**
     * {@code /etc/machine-id -> /run/machine-id}, as in the default image: the rootfs is read-only,
     * mvm-init writes a fresh id to /run at every boot and a clone's {@code clone-identity} replaces
     * it, so every VM and every clone of a template has its own. An image's own machine-id (often an
     * empty file, or absent in container images) would be the same in every VM of the template.
     */
    private static void linkMachineId(Path root) throws IOException {
        Path etc = ensureDirectory(root, "etc", 0755);
        Path machineId = etc.resolve("machine-id");
        if (Files.isDirectory(machineId, LinkOption.NOFOLLOW_LINKS)) {
            throw new TemplateBuildException("the image has a directory at /etc/machine-id, where mvm's guest needs a link");
        }
        Files.deleteIfExists(machineId);
        Files.createSymbolicLink(machineId, Path.of("/run/machine-id"));
    }

    /**
     * A directory the guest needs, resolved like the guest would (an image's {@code /sbin -> usr/sbin}
     * is followed inside the rootfs); created when missing. An image that has a file there cannot boot.
     */
    private static Path ensureDirectory(Path root, String relative, int mode) throws IOException {
        List<String> parts = RootfsPath.components(relative);
        Path parent = RootfsPath.parentDirectory(root, parts, true).orElseThrow(() -> new TemplateBuildException(
                "the image's /" + relative + " cannot be created: a parent is not a directory"));
        Path dir = parent.resolve(parts.getLast());
        if (Files.isSymbolicLink(dir)) {
            // e.g. /sbin -> usr/sbin or /var/run -> /run: the guest follows it; so do we
            List<String> viaLink = new ArrayList<>(parts);
            viaLink.add("x");
            return RootfsPath.parentDirectory(root, viaLink, true).orElseThrow(() -> new TemplateBuildException(
                    "the image's /" + relative + " is a link to something that is not a directory"));
        }
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectory(dir);
            Files.setAttribute(dir, "unix:mode", mode);
        } else if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new TemplateBuildException("the image has a file at /" + relative + ", where mvm's guest needs a directory");
        }
        return dir;
    }

    /**
     * The initramfs checks {@code [ -x /newroot/sbin/mvm-init ]} before switching root, in its own
     * namespace: an absolute {@code /sbin -> /usr/sbin} would be followed into the initramfs and the
     * check would fail. The same link made relative ({@code usr/sbin}) means exactly the same in the
     * guest and resolves under /newroot too.
     */
    private static void makeAbsoluteLinkRelative(Path root, String topLevel) throws IOException {
        Path link = root.resolve(topLevel);
        if (!Files.isSymbolicLink(link)) {
            return;
        }
        String target = Files.readSymbolicLink(link).toString();
        // A top-level link's directory is the root, so the target minus its leading slashes means the
        // same there; a target with ".." could climb out of /newroot in the initramfs: left alone.
        if (target.startsWith("/") && !List.of(target.split("/")).contains("..")) {
            String relative = target.replaceFirst("^/+", "");
            Files.delete(link);
            Files.createSymbolicLink(link, Path.of(relative.isEmpty() ? "." : relative));
        }
    }

    /** The exact rewrites per script; each replacement must occur exactly the given number of times. */
    static byte[] rewrite(String script, byte[] original) {
        String text = new String(original, StandardCharsets.UTF_8);
        text = replace(script, text, "#!/bin/sh\n", "#!" + MVM_BIN + "/sh\n", 1);
        switch (script) {
            case "mvm-init" -> {
                text = replace(script, text, HOST_PATH, GUEST_PATH, 1);
                text = replace(script, text, VAR_TMPFS, VAR_TMPFS_WITH_IMAGE_CONTENT, 1);
            }
            case "mvm-agent" -> {
                text = replace(script, text, HOST_PATH, GUEST_PATH, 1);
                // exec's own environment may set PATH (the request's env): setsid is ours regardless
                text = replace(script, text, "exec setsid \"$@\"", "exec " + MVM_BIN + "/setsid \"$@\"", 1);
            }
            case "mvm-workload" -> {
                // the workload's env (the image's Env, with its own PATH) is exported before these run
                text = replace(script, text, "setsid sh -c \"$(cat \"$cmd_file\")\"",
                        MVM_BIN + "/setsid " + MVM_BIN + "/sh -c \"$(" + MVM_BIN + "/cat \"$cmd_file\")\"", 1);
                text = replace(script, text, " && mv ", " && " + MVM_BIN + "/mv ", 2);
            }
            default -> { }
        }
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String replace(String script, String text, String from, String to, int expected) {
        int count = 0;
        for (int at = text.indexOf(from); at >= 0; at = text.indexOf(from, at + from.length())) {
            count++;
        }
        if (count != expected || (from.startsWith("#!") && !text.startsWith(from))) {
            throw new IllegalStateException("guest script " + script + " changed: expected '" + from.strip() + "' "
                    + expected + " time(s), found " + count + "; update GuestAgentInjection.rewrite");
        }
        return text.replace(from, to);
    }

    static byte[] guestScript(String name) {
        try (InputStream in = GuestAgentInjection.class.getResourceAsStream("/guest/" + name)) {
            if (in == null) {
                throw new IllegalStateException("guest script " + name + " is missing from the mvm build");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, String> scripts() {
        Map<String, String> scripts = new LinkedHashMap<>();
        scripts.put("mvm-init", "mvm-init");
        scripts.put("mvm-agent", "mvm-agent");
        scripts.put("mvm-workload", "mvm-workload");
        scripts.put("gateway-setup.sh", "mvm-gateway-setup");
        return scripts;
    }

    private static Map<String, Integer> mountPoints() {
        Map<String, Integer> dirs = new LinkedHashMap<>();
        for (String dir : List.of("dev", "proc", "sys", "run", "var", "data", "etc", "etc/mvm-config", "root")) {
            dirs.put(dir, 0755);
        }
        dirs.put("tmp", 01777);
        return dirs;
    }
}
