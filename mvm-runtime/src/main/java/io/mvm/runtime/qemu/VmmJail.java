package io.mvm.runtime.qemu;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.drive.AttachedDrive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a VMM its own user and exactly its own files before it is launched (docs/security.md):
 *
 * <ul>
 *   <li>the VM directory becomes {@code root:<id> 0750}: the VMM may enter it, not change it, and
 *       cannot read the root-only files there ({@code secrets.json}, {@code spec.json});
 *   <li>the VM's own drives, RAM file and serial log become {@code <id>:<id> 0600};
 *   <li>{@code vmm/} ({@code <id>:<id> 0700}) is the only place it can create files: its QMP and agent
 *       sockets, its pid file, the migration sockets;
 *   <li>a clone also gets the group of its golden snapshot, whose RAM file it maps
 *       ({@code root:<golden id> 0660}; QEMU 7.2 opens a {@code share=off} file read-write);
 *   <li>its tap is re-created owned by it (a persistent tap cannot change owner), keeping its
 *       alias, bridge and link state, since only the owner of a tap may attach to it without
 *       CAP_NET_ADMIN.
 * </ul>
 *
 * Shared, non-secret files (kernel, initramfs, root image) stay root's and must be world-readable;
 * the directories above the VM directory get the search bit for others (never the read bit).
 */
final class VmmJail {
    private static final Logger LOG = LoggerFactory.getLogger(VmmJail.class);
    static final String RUN_DIR = "vmm";
    private static final Set<PosixFilePermission> OWNER_RW = PosixFilePermissions.fromString("rw-------");

    /** The user and groups a VMM runs as. */
    record VmmUser(int uid, int gid, List<Integer> groups) {
        VmmUser {
            groups = List.copyOf(groups);
        }

        /** util-linux {@code setpriv}: the VMM gets these ids, no capabilities, no way to regain any. */
        List<String> launcherPrefix() {
            List<String> a = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid));
            if (groups.isEmpty()) {
                a.add("--clear-groups");
            } else {
                a.add("--groups=" + String.join(",", groups.stream().map(String::valueOf).toList()));
            }
            a.addAll(List.of("--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"));
            return a;
        }
    }

    private final VmmSandbox sandbox;
    private final VmmIds ids;

    VmmJail(VmmSandbox sandbox) {
        this.sandbox = sandbox;
        this.ids = new VmmIds(sandbox);
    }

    boolean enabled() {
        return sandbox.enabled();
    }

    static Path runDir(Path vmDir) {
        return vmDir.resolve(RUN_DIR);
    }

    /**
     * Prepares {@code vmDir} for a VMM about to be launched and returns the user it runs as (empty
     * when the sandbox is disabled: root). {@code ownFiles} are the VM's files the VMM opens (drives,
     * RAM file, serial log); the serial log is created here, so the VMM never needs to create it.
     */
    Optional<VmmUser> prepare(Path vmDir, List<AttachedDrive> drives, List<Path> imageFiles, Path serialLog,
                              Optional<Path> ownRam, Optional<Path> goldenRam, Optional<NicSpec> nic, boolean kvm) {
        try {
            Path run = runDir(vmDir);
            Files.createDirectories(run);
            if (!Files.exists(serialLog)) {
                Files.createFile(serialLog, PosixFilePermissions.asFileAttribute(OWNER_RW));
            }
            if (!sandbox.enabled()) {
                return Optional.empty();
            }
            int id = ids.claim(vmDir, groupOf(vmDir));
            searchableAncestors(vmDir.toAbsolutePath().getParent());
            own(vmDir, 0, id, "rwxr-x---");
            own(run, id, id, "rwx------");
            own(serialLog, id, id, "rw-------");
            for (AttachedDrive drive : drives) {
                if (drive.file().toAbsolutePath().startsWith(vmDir.toAbsolutePath())) {
                    own(drive.file(), id, id, "rw-------");
                } else {
                    shareImageFile(drive.file());
                }
            }
            for (Path file : imageFiles) {
                shareImageFile(file);
            }
            if (ownRam.isPresent()) {
                own(ownRam.get(), id, id, "rw-------");
            }
            List<Integer> groups = new ArrayList<>();
            if (goldenRam.isPresent()) {
                groups.add(shareGolden(goldenRam.get()));
            }
            if (nic.isPresent()) {
                handTap(nic.get().tap(), id);
            }
            if (kvm) {
                kvmGroup().ifPresent(groups::add);
            }
            return Optional.of(new VmmUser(id, id, groups));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot prepare the VMM sandbox in " + vmDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The group of a golden snapshot, owned by its directory: clones of it (and only they) may map
     * its RAM file. Done at save time so the recorded file identity already has it; older snapshots
     * get it at their first clone.
     */
    int shareGolden(Path goldenRam) throws IOException {
        Path dir = goldenRam.toAbsolutePath().getParent();
        int gid = ids.claim(dir, groupOf(dir));
        searchableAncestors(dir.getParent());
        own(dir, 0, gid, "rwxr-x---");
        own(goldenRam, 0, gid, "rw-rw----");
        return gid;
    }

    /**
     * Under KVM the VMM must open /dev/kvm: it gets the device's group when that group may read and
     * write it (the usual {@code root:kvm 0660}); a root-only /dev/kvm stays closed to it, and QEMU
     * says so when it starts.
     */
    private static Optional<Integer> kvmGroup() throws IOException {
        Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm)) {
            return Optional.empty();
        }
        int gid = (Integer) Files.getAttribute(kvm, "unix:gid");
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(kvm);
        return gid != 0 && perms.contains(PosixFilePermission.GROUP_READ) && perms.contains(PosixFilePermission.GROUP_WRITE)
                ? Optional.of(gid) : Optional.empty();
    }

    /** Gives up the id a directory holds (its VM or snapshot is being deleted). */
    void release(Path dir) {
        if (!sandbox.enabled()) {
            return;
        }
        groupOf(dir).ifPresent(id -> ids.release(dir, id));
    }

    /** The VMM user recorded on a VM directory (its group), if it has one in the sandbox's range. */
    Optional<Integer> groupOf(Path dir) {
        try {
            int gid = (Integer) Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            return ids.inRange(gid) ? Optional.of(gid) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot read the owner of " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void own(Path file, int uid, int gid, String mode) throws IOException {
        int currentUid = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int currentGid = (Integer) Files.getAttribute(file, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        if (currentUid != uid || currentGid != gid) {
            Files.setAttribute(file, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(file, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        }
        Set<PosixFilePermission> wanted = PosixFilePermissions.fromString(mode);
        if (!Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS).equals(wanted)) {
            Files.setPosixFilePermissions(file, wanted);
        }
    }

    /**
     * A shared, non-secret image file (kernel, initramfs, root image — wherever it lives: the image
     * dir, a template revision, an artifact cache fetched with the process's own umask) must be
     * readable by every VMM user, and its directories searchable.
     */
    private static void shareImageFile(Path file) throws IOException {
        Path real = file.toRealPath();
        Set<PosixFilePermission> perms = EnumSet.copyOf(Files.getPosixFilePermissions(real));
        if (!perms.contains(PosixFilePermission.OTHERS_READ)) {
            perms.add(PosixFilePermission.OTHERS_READ);
            Files.setPosixFilePermissions(real, perms);
            LOG.info("made image file {} readable for VMM users (o+r)", real);
        }
        searchableAncestors(real.getParent());
        if (!real.equals(file.toAbsolutePath())) {
            searchableAncestors(file.toAbsolutePath().getParent());
        }
    }

    /** Every directory above a VM directory needs the search bit for others, so a VMM can reach it. */
    private static void searchableAncestors(Path dir) throws IOException {
        for (Path p = dir; p != null; p = p.getParent()) {
            Set<PosixFilePermission> perms = EnumSet.copyOf(Files.getPosixFilePermissions(p));
            if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                perms.add(PosixFilePermission.OTHERS_EXECUTE);
                Files.setPosixFilePermissions(p, perms);
                LOG.info("made {} searchable for VMM users (o+x)", p);
            }
        }
    }

    /**
     * Only a tap's owner (or a holder of CAP_NET_ADMIN) may attach to it, and the owner of a
     * persistent tap cannot be changed: a tap owned by someone else is deleted and added again with
     * this owner, keeping its alias, bridge and up state (nftables rules match it by name).
     */
    static void handTap(String tap, int id) throws IOException {
        openableTun();
        Path sys = Path.of("/sys/class/net", tap);
        if (Files.isDirectory(sys)) {
            if (Files.isRegularFile(sys.resolve("owner")) && read(sys.resolve("owner")).equals(Integer.toString(id))
                    && read(sys.resolve("group")).equals(Integer.toString(id))) {
                return;
            }
            String alias = Files.isRegularFile(sys.resolve("ifalias")) ? read(sys.resolve("ifalias")) : "";
            Optional<String> master = Files.isSymbolicLink(sys.resolve("master"))
                    ? Optional.of(Files.readSymbolicLink(sys.resolve("master")).getFileName().toString()) : Optional.empty();
            boolean up = (Integer.decode(read(sys.resolve("flags"))) & 0x1) != 0;
            // The agent's network repair may re-create the tap (root's) in the moment it is gone: retry.
            for (int attempt = 1; ; attempt++) {
                ip("link", "del", "dev", tap);
                try {
                    ip("tuntap", "add", "dev", tap, "mode", "tap", "user", Integer.toString(id), "group", Integer.toString(id));
                    break;
                } catch (MvmException e) {
                    if (attempt == 3 || !Files.isDirectory(sys)) {
                        throw e;
                    }
                }
            }
            if (!alias.isEmpty()) {
                ip("link", "set", "dev", tap, "alias", alias);
            }
            if (master.isPresent()) {
                ip("link", "set", "dev", tap, "master", master.get());
            }
            if (up) {
                ip("link", "set", "dev", tap, "up");
            }
        } else {
            ip("tuntap", "add", "dev", tap, "mode", "tap", "user", Integer.toString(id), "group", Integer.toString(id));
        }
    }

    /**
     * An unprivileged VMM must be able to open {@code /dev/net/tun}: 0666 is its standard mode
     * (udev's), some minimal hosts and containers leave it 0600. Opening it grants nothing by
     * itself: attaching to a tap needs its ownership, creating one needs CAP_NET_ADMIN.
     */
    private static void openableTun() throws IOException {
        Path tun = Path.of("/dev/net/tun");
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(tun);
        Set<PosixFilePermission> wanted = PosixFilePermissions.fromString("rw-rw-rw-");
        if (!perms.containsAll(wanted)) {
            Set<PosixFilePermission> next = EnumSet.copyOf(perms);
            next.addAll(wanted);
            Files.setPosixFilePermissions(tun, next);
            LOG.info("made {} openable for VMM users (0666, its standard mode)", tun);
        }
    }

    /** The real user id of a process (from /proc/PID/status), empty when it is gone. */
    static java.util.OptionalInt uidOf(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("Uid:")) {
                    return java.util.OptionalInt.of(Integer.parseInt(line.substring(4).strip().split("\\s+")[0]));
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone, or unreadable: no uid to report
        }
        return java.util.OptionalInt.empty();
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8).strip();
    }

    private static void ip(String... args) {
        List<String> argv = new ArrayList<>(List.of("ip"));
        argv.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot hand the tap to its VMM: "
                        + String.join(" ", argv) + ": " + out);
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot run ip: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while handing a tap to its VMM", e);
        }
    }
}
