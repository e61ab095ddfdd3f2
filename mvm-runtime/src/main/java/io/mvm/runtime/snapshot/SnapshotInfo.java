package io.mvm.runtime.snapshot;

import io.mvm.model.Accelerator;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What a golden snapshot was taken from, stored as {@code info.json} beside its files. A restore is
 * only valid on the same backend and backend version, with the same vCPUs, memory, image and
 * devices (drive slots and NIC): a clone is checked against all of it before anything is launched
 * ({@link SnapshotCompatibility}), and the files against their recorded sizes and digests
 * ({@link GoldenSnapshot#verify}).
 *
 * @param kernelCommandLine the template's whole command line; clones are launched with it, since the
 *                          running guest already parsed it (their own identity arrives through the
 *                          guest agent instead)
 * @param imageSha256       sha256 of the image's kernel, initramfs and rootfs, by role
 * @param driveSlots        the template's block devices after the rootfs, in attach order: a clone
 *                          must attach exactly these (a guest keeps a device's capacity from boot)
 * @param dataDrive         the template's data drive at the snapshot, which every clone starts from
 *                          (its content matches the guest memory's view of it), or null
 */
public record SnapshotInfo(
        int schemaVersion,
        Instant createdAt,
        String template,
        String backend,
        String backendVersion,
        Accelerator accelerator,
        int vcpus,
        long memoryMib,
        String imageBootArgs,
        String kernelCommandLine,
        Map<String, String> imageSha256,
        SnapshotFile vmstate,
        SnapshotFile memory,
        SnapshotFile dataDrive,
        List<DriveSlot> driveSlots,
        boolean nic,
        long saveMillis) {

    public static final int SCHEMA_VERSION = 1;
    public static final String FILE_NAME = "info.json";

    public SnapshotInfo {
        // Tolerant of absent fields, so an info.json of another schema version reaches the version check.
        imageSha256 = imageSha256 == null ? Map.of() : Map.copyOf(imageSha256);
        driveSlots = driveSlots == null ? List.of() : List.copyOf(driveSlots);
    }

    /**
     * One file of the snapshot. {@code identity} ({@code dev:ino:size:mtime:ctime}) lets a clone
     * skip re-hashing a file nobody touched (hashing a 256 MiB RAM file costs about a second here).
     */
    public record SnapshotFile(String name, long bytes, String sha256, String identity) {}

    /** A block device after the rootfs: its drive id ({@code data}, {@code secrets}, {@code config}) and capacity. */
    public record DriveSlot(String id, long bytes, boolean readOnly) {}
}
