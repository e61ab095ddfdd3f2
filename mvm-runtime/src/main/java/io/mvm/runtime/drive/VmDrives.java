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

    private final Ext4Image ext4;

    public VmDrives(Ext4Image ext4) {
        this.ext4 = ext4;
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
                    buildFromEntries(vmDir, file, kind, toBytes(secrets.entries()), "r--------");
                    drives.add(new AttachedDrive(kind.wireName(), file, true));
                }
                case DriveSpec.Config config -> {
                    var files = new java.util.TreeMap<>(config.files());
                    files.put(".version", (config.version() + "\n").getBytes(StandardCharsets.UTF_8));
                    buildFromEntries(vmDir, file, kind, files, "r--r--r--");
                    drives.add(new AttachedDrive(kind.wireName(), file, true));
                }
            }
        }
        return drives;
    }

    private static Map<String, byte[]> toBytes(Map<String, String> entries) {
        var out = new java.util.TreeMap<String, byte[]>();
        entries.forEach((k, v) -> out.put(k, v.getBytes(StandardCharsets.UTF_8)));
        return out;
    }

    private void buildFromEntries(Path vmDir, Path file, DriveKind kind, Map<String, byte[]> entries, String entryMode) {
        Path staging = vmDir.resolve("." + kind.wireName() + "-staging");
        try {
            DirectoryTree.delete(staging);
            Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            long bytes = 0;
            for (var entry : entries.entrySet()) {
                Path target = staging.resolve(entry.getKey());
                Files.createFile(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.write(target, entry.getValue());
                Files.setPosixFilePermissions(target, PosixFilePermissions.fromString(entryMode));
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
