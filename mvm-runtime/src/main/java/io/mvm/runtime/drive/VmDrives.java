package io.mvm.runtime.drive;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Prepares the drive files of one VM in its directory: the image's rootfs (shared, read-only),
 * then data (created once, kept across stop/start and sleep/wake), secrets (rebuilt every time,
 * mode 0600 on the host) and config (rebuilt from the spec, carrying its version).
 */
public final class VmDrives {
    private static final long SMALL_DRIVE_MIB = 4;
    /**
     * Reserved names on the config drive: the workload's command (one {@code sh -c} line) and its
     * environment ({@code KEY=value} lines), root-only (0400) in the guest, read by mvm-init at a
     * cold boot. Never on the kernel command line, which is QEMU's argv on the host and
     * /proc/cmdline in the guest. A config file of the user's with one of these names is replaced.
     */
    public static final String WORKLOAD_CMD = ".mvm-workload.cmd";
    public static final String WORKLOAD_ENV = ".mvm-workload.env";

    private final Ext4Image ext4;

    public VmDrives(Ext4Image ext4) {
        this.ext4 = ext4;
    }

    public static boolean hasWorkload(VmSpec spec) {
        return spec.cmd() != null || !spec.env().isEmpty();
    }

    /**
     * The spec a cold boot launches: one with a workload and no config drive gets an empty config
     * drive, which carries the workload. A restore must attach the drives the VM was started with:
     * callers apply this there only when that VM has a config drive file ({@link #fileFor}).
     */
    public static VmSpec withWorkloadDrive(VmSpec spec) {
        if (!hasWorkload(spec) || spec.drives().stream().anyMatch(d -> d.kind() == DriveKind.CONFIG)) {
            return spec;
        }
        return withEmptyConfigDrive(spec);
    }

    /** The spec with an empty config drive added (it has none). */
    public static VmSpec withEmptyConfigDrive(VmSpec spec) {
        List<DriveSpec> drives = new ArrayList<>(spec.drives());
        drives.add(new DriveSpec.Config(1, Map.of()));
        return new VmSpec(spec.name(), spec.vcpus(), spec.memoryMib(), spec.image(), drives, spec.cmd(), spec.env(), spec.nic());
    }

    /** {@link #withWorkloadDrive} for a restore: only if this VM was launched with a config drive. */
    public static VmSpec withWorkloadDriveIfAttached(VmSpec spec, Path vmDir) {
        return Files.isRegularFile(fileFor(vmDir, DriveKind.CONFIG)) ? withWorkloadDrive(spec) : spec;
    }

    public static Path fileFor(Path vmDir, DriveKind kind) {
        return vmDir.resolve(kind.wireName() + ".ext4");
    }

    /** Builds what each start or wake needs and returns the drives in attach order. */
    public List<AttachedDrive> prepare(VmSpec spec, Path vmDir) {
        List<AttachedDrive> drives = new ArrayList<>();
        drives.add(new AttachedDrive("root", spec.image().rootfs(), true));
        for (DriveKind kind : DriveKind.values()) {
            Path file = fileFor(vmDir, kind);
            var drive = spec.drives().stream().filter(d -> d.kind() == kind).findFirst();
            if (drive.isEmpty()) {
                continue;
            }
            switch (drive.get()) {
                case DriveSpec.Data data -> {
                    if (!Files.isRegularFile(file)) {
                        ext4.build(file, kind.label(), null, data.sizeMib(), PosixFilePermissions.fromString("rw-------"));
                    }
                    drives.add(new AttachedDrive(kind.wireName(), file, false));
                }
                case DriveSpec.Secrets secrets -> {
                    buildFromEntries(vmDir, file, kind, toBytes(secrets.entries()), "r--------", java.util.Set.of());
                    drives.add(new AttachedDrive(kind.wireName(), file, true));
                }
                case DriveSpec.Config config -> {
                    var files = new java.util.TreeMap<>(config.files());
                    files.put(".version", (config.version() + "\n").getBytes(StandardCharsets.UTF_8));
                    files.remove(WORKLOAD_CMD);
                    files.remove(WORKLOAD_ENV);
                    if (spec.cmd() != null) {
                        files.put(WORKLOAD_CMD, spec.cmd().getBytes(StandardCharsets.UTF_8));
                    }
                    if (!spec.env().isEmpty()) {
                        files.put(WORKLOAD_ENV, envLines(spec.env()).getBytes(StandardCharsets.UTF_8));
                    }
                    buildFromEntries(vmDir, file, kind, files, "r--r--r--", java.util.Set.of(WORKLOAD_CMD, WORKLOAD_ENV));
                    drives.add(new AttachedDrive(kind.wireName(), file, true));
                }
            }
        }
        return drives;
    }

    /** One {@code KEY=value} line per variable, sorted; what mvm-workload exports. */
    static String envLines(Map<String, String> env) {
        StringBuilder out = new StringBuilder();
        new java.util.TreeMap<>(env).forEach((k, v) -> out.append(k).append('=').append(v).append('\n'));
        return out.toString();
    }

    private static Map<String, byte[]> toBytes(Map<String, String> entries) {
        var out = new java.util.TreeMap<String, byte[]>();
        entries.forEach((k, v) -> out.put(k, v.getBytes(StandardCharsets.UTF_8)));
        return out;
    }

    private void buildFromEntries(Path vmDir, Path file, DriveKind kind, Map<String, byte[]> entries, String entryMode,
                                  java.util.Set<String> rootOnly) {
        Path staging = vmDir.resolve("." + kind.wireName() + "-staging");
        try {
            DirectoryTree.delete(staging);
            Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            long bytes = 0;
            for (var entry : entries.entrySet()) {
                Path target = staging.resolve(entry.getKey());
                Files.createFile(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.write(target, entry.getValue());
                Files.setPosixFilePermissions(target, PosixFilePermissions.fromString(
                        rootOnly.contains(entry.getKey()) ? "r--------" : entryMode));
                bytes += entry.getValue().length + 4096;
            }
            // The drive's root directory keeps the staging dir's mode: secrets stay root-only in the guest.
            Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString(
                    kind == DriveKind.SECRETS ? "r-x------" : "r-xr-xr-x"));
            long sizeMib = Math.max(SMALL_DRIVE_MIB, 2 * (bytes >> 20) + SMALL_DRIVE_MIB);
            ext4.build(file, kind.label(), staging, sizeMib, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot prepare the " + kind.wireName() + " drive: " + e.getMessage(), e);
        } finally {
            DirectoryTree.delete(staging);
        }
    }

}
